#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Rank allocation for methods that replace a dense linear d_out x d_in (d_out d_in weights) by a
// factor pair of rank r (r (d_out + d_in) weights): LoRD and Lillama. Plain integers, no LibTorch.
namespace rs {

// A rank of kDenseRank keeps the layer dense (not factored).
inline constexpr int64_t kDenseRank = -1;

struct FactorShape {
    std::string name; // "model.layers.3.mlp.down_proj"
    int64_t block = 0;
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;

    int64_t denseParameters() const { return outFeatures * inFeatures; }
    int64_t rankCost() const { return outFeatures + inFeatures; }
    int64_t maxRank() const { return outFeatures < inFeatures ? outFeatures : inFeatures; }
    // The largest rank whose factors are smaller than the dense matrix.
    int64_t breakEvenRank() const { return (denseParameters() - 1) / rankCost(); }
    int64_t parametersAt(int64_t rank) const {
        return rank == kDenseRank ? denseParameters() : rank * rankCost();
    }
};

enum class AllocationStrategy {
    Uniform,      // every layer at the same fraction of its break-even rank
    GreedyBottom, // whole decoder blocks factored from the first one up until the budget is met
    GreedyTop,    // the same from the last block down
};
const char* allocationStrategyName(AllocationStrategy strategy);
// "uniform", "bottom", "top"; fails for anything else.
AllocationStrategy parseAllocationStrategy(const std::string& name);

struct RankAllocation {
    std::vector<int64_t> ranks; // per shape, kDenseRank for layers kept dense
    int64_t parametersBefore = 0;
    int64_t parametersAfter = 0;
    int64_t budget = 0; // the most parametersAfter may be
    double reductionPercent() const;
};

// The same rank everywhere. Fails naming the layer when the rank exceeds min(d_out, d_in).
RankAllocation allocateUniformRank(const std::vector<FactorShape>& shapes, int64_t rank);

// Ranks that remove at least `percent` of the dense parameters of `shapes`: the budget is
// floor((1 - percent / 100) * dense) and the result holds at most that many parameters, with
// less than one rank step left over (no layer that may grow could take one more rank).
// - Uniform: rank floor(f * break-even) per layer (f = 1 - percent / 100, at least 1), then the
//   leftover budget goes one rank at a time to the layers in order.
// - GreedyBottom/Top: blocks are factored whole at layerFraction of each layer's break-even rank,
//   from the chosen end, until the budget is met; the leftover then raises the ranks of the
//   factored layers (round robin, up to break-even). The other layers stay dense.
// Fails for a percentage outside (0, 100) and for a budget the shapes cannot meet (every layer
// at rank 1, or every block at layerFraction, still too large).
RankAllocation allocateForReduction(const std::vector<FactorShape>& shapes, double percent,
                                    AllocationStrategy strategy = AllocationStrategy::Uniform,
                                    double layerFraction = 0.5);

// Parameters of given ranks (no checks beyond the rank range).
RankAllocation evaluateAllocation(const std::vector<FactorShape>& shapes,
                                  const std::vector<int64_t>& ranks);

} // namespace rs
