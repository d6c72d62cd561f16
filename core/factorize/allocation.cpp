#include "factorize/allocation.h"

#include "util/argument_error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace rs {

namespace {

// A percentage as the user wrote it: 99.9 stays 99.9 (rounding would claim 100).
std::string formatPercent(double percent) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", percent);
    return text;
}

int64_t totalDense(const std::vector<FactorShape>& shapes) {
    int64_t total = 0;
    for (const FactorShape& s : shapes)
        total += s.denseParameters();
    return total;
}

// Rank floor(fraction * d_out d_in / (d_out + d_in)), at least 1: the factors hold about
// `fraction` of the dense weights.
int64_t fractionRank(const FactorShape& s, double fraction) {
    const double exact =
        fraction * static_cast<double>(s.denseParameters()) / static_cast<double>(s.rankCost());
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(exact)), 1, s.maxRank());
}

// Spends what is left of the budget one rank at a time on the factored layers in `order`
// (round robin), never past a layer's break-even rank: afterwards no such layer fits one more.
void fillLeftover(const std::vector<FactorShape>& shapes, const std::vector<size_t>& order,
                  RankAllocation& a) {
    bool grew = true;
    while (grew) {
        grew = false;
        for (size_t i : order) {
            int64_t& r = a.ranks[i];
            const FactorShape& s = shapes[i];
            if (r == kDenseRank || r >= std::min(s.breakEvenRank(), s.maxRank()) ||
                a.parametersAfter + s.rankCost() > a.budget)
                continue;
            ++r;
            a.parametersAfter += s.rankCost();
            grew = true;
        }
    }
}

} // namespace

const char* allocationStrategyName(AllocationStrategy strategy) {
    switch (strategy) {
    case AllocationStrategy::Uniform:
        return "uniform";
    case AllocationStrategy::GreedyBottom:
        return "bottom";
    case AllocationStrategy::GreedyTop:
        return "top";
    }
    return "?";
}

AllocationStrategy parseAllocationStrategy(const std::string& name) {
    for (AllocationStrategy s : {AllocationStrategy::Uniform, AllocationStrategy::GreedyBottom,
                                 AllocationStrategy::GreedyTop})
        if (name == allocationStrategyName(s))
            return s;
    failArgument("allocation", "unknown strategy '" + name + "' (use uniform, bottom or top)");
}

double RankAllocation::reductionPercent() const {
    return parametersBefore > 0 ? 100.0 * (1.0 - static_cast<double>(parametersAfter) /
                                                     static_cast<double>(parametersBefore))
                                : 0.0;
}

RankAllocation evaluateAllocation(const std::vector<FactorShape>& shapes,
                                  const std::vector<int64_t>& ranks) {
    if (ranks.size() != shapes.size())
        fail("rank allocation", std::to_string(ranks.size()) + " ranks for " +
                                    std::to_string(shapes.size()) + " layers");
    RankAllocation a;
    a.ranks = ranks;
    a.parametersBefore = totalDense(shapes);
    for (size_t i = 0; i < shapes.size(); ++i) {
        const FactorShape& s = shapes[i];
        if (ranks[i] != kDenseRank && (ranks[i] < 1 || ranks[i] > s.maxRank()))
            failArgument(s.name, "rank " + std::to_string(ranks[i]) + " is outside 1.." +
                                     std::to_string(s.maxRank()) + " (min(d_out, d_in) of " +
                                     std::to_string(s.outFeatures) + "x" +
                                     std::to_string(s.inFeatures) + ")");
        a.parametersAfter += s.parametersAt(ranks[i]);
    }
    a.budget = a.parametersAfter;
    return a;
}

RankAllocation allocateUniformRank(const std::vector<FactorShape>& shapes, int64_t rank) {
    return evaluateAllocation(shapes, std::vector<int64_t>(shapes.size(), rank));
}

RankAllocation allocateForReduction(const std::vector<FactorShape>& shapes, double percent,
                                    AllocationStrategy strategy, double layerFraction) {
    if (shapes.empty())
        fail("rank allocation", "no layer to factor");
    if (!(percent > 0.0 && percent < 100.0))
        failArgument("parameter reduction",
                     "must be between 0 and 100 percent (got " + std::to_string(percent) + ")");
    if (!(layerFraction > 0.0 && layerFraction < 1.0))
        failArgument("layer fraction",
                     "must be between 0 and 1 (got " + std::to_string(layerFraction) + ")");
    RankAllocation a;
    a.parametersBefore = totalDense(shapes);
    a.budget = static_cast<int64_t>(
        std::floor((1.0 - percent / 100.0) * static_cast<double>(a.parametersBefore)));
    const std::string goal = formatPercent(percent) + "% fewer parameters (at most " +
                             std::to_string(a.budget) + " of " +
                             std::to_string(a.parametersBefore) + ")";

    std::vector<size_t> order(shapes.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    if (strategy == AllocationStrategy::Uniform) {
        for (const FactorShape& s : shapes) {
            a.ranks.push_back(fractionRank(s, 1.0 - percent / 100.0));
            a.parametersAfter += s.parametersAt(a.ranks.back());
        }
        if (a.parametersAfter > a.budget)
            failArgument("rank allocation", "cannot reach " + goal + ": rank 1 everywhere needs " +
                                                std::to_string(a.parametersAfter));
        fillLeftover(shapes, order, a);
        return a;
    }

    // Blocks in the order they are factored.
    std::map<int64_t, std::vector<size_t>> blocks;
    for (size_t i = 0; i < shapes.size(); ++i)
        blocks[shapes[i].block].push_back(i);
    std::vector<int64_t> blockOrder;
    for (const auto& [block, members] : blocks)
        blockOrder.push_back(block);
    if (strategy == AllocationStrategy::GreedyTop)
        std::reverse(blockOrder.begin(), blockOrder.end());

    a.ranks.assign(shapes.size(), kDenseRank);
    a.parametersAfter = a.parametersBefore;
    std::vector<size_t> factored; // layers factored, last block first
    for (int64_t block : blockOrder) {
        if (a.parametersAfter <= a.budget)
            break;
        for (size_t i : blocks[block]) {
            a.ranks[i] = fractionRank(shapes[i], layerFraction);
            a.parametersAfter += shapes[i].parametersAt(a.ranks[i]) - shapes[i].denseParameters();
        }
        factored.insert(factored.begin(), blocks[block].begin(), blocks[block].end());
    }
    if (a.parametersAfter > a.budget)
        failArgument("rank allocation", "cannot reach " + goal + " with every block factored at " +
                                            std::to_string(layerFraction) +
                                            " of its break-even rank; lower the layer fraction");
    fillLeftover(shapes, factored, a);
    return a;
}

} // namespace rs
