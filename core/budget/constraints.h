#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

// A rank rule for the layers whose name matches `pattern`, like PEFT's rank_pattern: the pattern
// is a regular expression matched against the whole name or against its trailing dotted part
// ("down_proj" matches "model.layers.3.mlp.down_proj", "layers\.0\..*" matches layer 0). A fixed
// rank has minRank == maxRank.
struct RankRule {
    std::string pattern;
    int64_t minRank = 0;
    int64_t maxRank = 0;
    std::string text() const; // "down_proj=64" or "down_proj=16:64", as parsed
};

// Parses "PATTERN=R" (fixed rank) or "PATTERN=MIN:MAX" (bounds); fails with a message that
// quotes the text.
RankRule parseRankRule(const std::string& text);

struct PlanConstraints {
    int64_t minRank = 0;  // every layer (overrides replace it)
    int64_t maxRank = -1; // -1: up to min(d_out, d_in)
    int64_t align = 1;    // ranks are multiples of this (8 or 16 suit GPU kernels)
    std::vector<RankRule> overrides;
    std::vector<std::string> exclude; // regexes (matched like rule patterns): rank 0, no adapter
};

// What the constraints leave to one layer: ranks lo, lo + align, ..., hi.
struct RankRange {
    int64_t lo = 0;
    int64_t hi = 0;
    int64_t step = 1;
    bool fixed() const { return lo == hi; }
    // The largest allowed rank <= r (lo when r < lo).
    int64_t floorOf(int64_t r) const;
};

// Resolves the constraints for layers with the given names and largest possible ranks.
// Fails with a clear message, and gives no ranges, for: a negative or zero alignment, min > max,
// a bad regex, a rule or exclusion that matches no layer, a layer matched by an exclusion and a
// rule or by two rules that disagree, a fixed rank that is not a multiple of the alignment or
// larger than the layer allows, and a layer left with no allowed rank.
std::vector<RankRange> resolveConstraints(const PlanConstraints& constraints,
                                          const std::vector<std::string>& names,
                                          const std::vector<int64_t>& maxRanks);

// True when `pattern` (a rule or exclusion pattern) matches the layer name.
bool patternMatches(const std::string& pattern, const std::string& name);

} // namespace rs
