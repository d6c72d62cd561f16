// Rank override and exclusion patterns (--rank-override PATTERN=R|MIN:MAX, --exclude PATTERN) and
// their resolution against a model's layer names. Input: one override per line, or an exclusion
// when the line starts with '!'; the first byte picks the alignment and the minimum rank.

#include "budget/constraints.h"
#include "fuzz_input.h"

#include <string>
#include <vector>

namespace {

std::vector<std::string> layerNames() {
    std::vector<std::string> names;
    for (int layer = 0; layer < 2; ++layer)
        for (const char* linear :
             {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"})
            names.push_back("model.layers." + std::to_string(layer) + "." + linear);
    return names;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    static const std::vector<std::string> names = layerNames();
    static const std::vector<int64_t> maxRanks(names.size(), 64);

    rs::PlanConstraints constraints;
    constraints.align = 1 << (data[0] % 5);
    constraints.minRank = (data[0] >> 5) * 4;
    std::string lines(rs::fuzz::text(data + 1, size - 1));
    bool parsed = true;
    size_t start = 0;
    while (start <= lines.size()) {
        const size_t end = std::min(lines.find('\n', start), lines.size());
        const std::string line = lines.substr(start, end - start);
        start = end + 1;
        if (!line.empty() && line[0] == '!') {
            constraints.exclude.push_back(line.substr(1));
            continue;
        }
        try {
            constraints.overrides.push_back(rs::parseRankRule(line));
        } catch (const rs::Error&) {
            parsed = false;
        }
    }
    if (parsed)
        rs::fuzz::acceptRefusal([&] { rs::resolveConstraints(constraints, names, maxRanks); });
    return 0;
}
