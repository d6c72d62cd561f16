#include "tokenizer/bpe_merge.h"

#include <algorithm>
#include <queue>

namespace rs::tok {

bool MergeTable::add(int32_t left, int32_t right, double priority, int32_t result) {
    return m_rules.try_emplace(key(left, right), MergeRule{priority, result}).second;
}

namespace {

struct Candidate {
    double priority;
    uint32_t left;
    uint32_t right;
    int32_t leftId;
    int32_t rightId;
    int32_t result;
};

struct LaterCandidate {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.priority != b.priority ? a.priority > b.priority : a.left > b.left;
    }
};

constexpr int32_t kRemoved = -1;
constexpr uint32_t kNone = UINT32_MAX;

} // namespace

void applyMerges(std::vector<int32_t>& symbols, const MergeTable& table) {
    const auto n = static_cast<uint32_t>(symbols.size());
    if (n < 2) {
        return;
    }
    // A symbol keeps the index of its first original symbol, so index order is text order.
    std::vector<uint32_t> prev(n);
    std::vector<uint32_t> next(n);
    for (uint32_t i = 0; i < n; ++i) {
        prev[i] = i == 0 ? kNone : i - 1;
        next[i] = i + 1 == n ? kNone : i + 1;
    }
    std::priority_queue<Candidate, std::vector<Candidate>, LaterCandidate> queue;
    const auto consider = [&](uint32_t left, uint32_t right) {
        if (const MergeRule* rule = table.find(symbols[left], symbols[right])) {
            queue.push({rule->priority, left, right, symbols[left], symbols[right], rule->result});
        }
    };
    for (uint32_t i = 0; i + 1 < n; ++i) {
        consider(i, i + 1);
    }
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        // Stale entries: one side was merged (its id changed or it was removed) since the push.
        if (symbols[c.left] != c.leftId || symbols[c.right] != c.rightId ||
            next[c.left] != c.right) {
            continue;
        }
        symbols[c.left] = c.result;
        symbols[c.right] = kRemoved;
        next[c.left] = next[c.right];
        if (next[c.left] != kNone) {
            prev[next[c.left]] = c.left;
            consider(c.left, next[c.left]);
        }
        if (prev[c.left] != kNone) {
            consider(prev[c.left], c.left);
        }
    }
    symbols.erase(std::remove(symbols.begin(), symbols.end(), kRemoved), symbols.end());
}

} // namespace rs::tok
