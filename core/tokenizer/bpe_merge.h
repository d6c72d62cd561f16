#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

// The merge loop shared by every BPE flavour here. Hugging Face BPE merges by rank, SentencePiece
// and llama2.c by the merged piece's score; both become a "priority" where lower merges first.
namespace rs::tok {

struct MergeRule {
    double priority;
    int32_t result;
};

class MergeTable {
public:
    // Returns false (and keeps the earlier rule) when the pair already has one.
    bool add(int32_t left, int32_t right, double priority, int32_t result);
    const MergeRule* find(int32_t left, int32_t right) const {
        const auto it = m_rules.find(key(left, right));
        return it == m_rules.end() ? nullptr : &it->second;
    }
    size_t size() const { return m_rules.size(); }
    void reserve(size_t count) { m_rules.reserve(count); }

private:
    static uint64_t key(int32_t left, int32_t right) {
        return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    }
    std::unordered_map<uint64_t, MergeRule> m_rules;
};

// Repeatedly merges the adjacent pair with the lowest priority, the leftmost among equals, until no
// pair has a rule. This is llama2.c's and SentencePiece's loop (highest score first, leftmost on
// ties) and Hugging Face's (lowest rank first), done with a heap in O(n log n) instead of a rescan
// per merge, so that a whole unsplit document stays fast.
void applyMerges(std::vector<int32_t>& symbols, const MergeTable& table);

} // namespace rs::tok
