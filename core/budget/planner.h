#pragma once

#include "budget/constraints.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

// One layer as the planner sees it: its shape and its error-vs-rank curve E(r), r = 0 ..
// curve.size() - 1 (docs/design.md §2; the EoRA curve is the exact optimum at every rank).
struct PlanLayer {
    std::string name;
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
    std::vector<double> curve;
    double weight = 1.0; // w_l of the objective sum_l w_l E_l(r_l)
    // Adapter parameters per unit of rank: d_out + d_in.
    int64_t rankCost() const { return outFeatures + inFeatures; }
};

struct Plan {
    std::vector<int64_t> ranks; // per layer, in the planner's order
    int64_t parameters = 0;     // sum_l r_l (d_out + d_in), adapter parameters
    double objective = 0.0;     // sum_l w_l E_l(r_l)
    // A lower bound of the objective of any plan within the same budget and constraints (the
    // convex relaxation); objective - lowerBound bounds what the hull rounding may have lost.
    // Equal to objective for uniform plans, where it means nothing.
    double lowerBound = 0.0;
};

// Rank allocation under a global parameter budget: minimise sum_l w_l E_l(r_l) subject to
// sum_l r_l (d_out,l + d_in,l) <= budget and the constraints.
//
// The constructor takes the lower convex hull of every layer's curve over its allowed ranks and
// sorts all hull segments of all layers by marginal gain per parameter once (O(S log S) for S
// segments). optimal() then binary-searches that order (O(L log S) for L layers) and fills the
// leftover budget greedily. On convex curves with equal segment costs this is the optimum; in
// general the knapsack's integrality leaves a gap, which optimal() narrows with a comparison
// against the best uniform plan that fits and a few bounded passes of pairwise exchanges, and
// reports as lowerBound. A budget slider can re-plan on every move (see bench_budget).
class RankPlanner {
public:
    // Fails (see resolveConstraints) for contradicting constraints, and for a layer without a
    // curve or with a NaN/Inf in it, or with a negative or non-finite weight.
    RankPlanner(std::vector<PlanLayer> layers, const PlanConstraints& constraints = {});

    const std::vector<PlanLayer>& layers() const { return m_layers; }
    const std::vector<RankRange>& ranges() const { return m_ranges; }

    // Budget-optimal plan. Fails for a negative budget, a budget above the full-rank cost, or one
    // below what the constraints require (minParameters()).
    Plan optimal(int64_t budget) const;
    // The same rank for every layer (clamped to each layer's range and rounded down to the
    // alignment; overrides and exclusions apply).
    Plan uniform(int64_t rank) const;
    // Rank f * d_out d_in / (d_out + d_in), a fraction of each layer's break-even rank (where
    // the adapter costs as much as the layer), rounded down and constrained like uniform().
    Plan uniformFraction(double fraction) const;
    // Parameters and objective of given ranks (no constraint check).
    Plan evaluate(const std::vector<int64_t>& ranks) const;

    int64_t minParameters() const { return m_minParameters; } // every layer at its lowest rank
    int64_t maxParameters() const { return m_maxParameters; } // every layer at its highest rank
    // Every layer at min(d_out, d_in): the most any budget may ask for.
    int64_t fullRankParameters() const { return m_fullRankParameters; }
    size_t segmentCount() const { return m_order.size(); }

private:
    struct Hull {
        std::vector<int64_t> ranks;      // vertices, increasing rank, decreasing error
        std::vector<uint32_t> positions; // global order position of segment i (i -> i + 1)
    };
    struct Segment {
        double ratio; // weighted error removed per parameter
        uint32_t layer;
        uint32_t index;
    };
    // The best single rank increase that costs at most `available` (rank -1: none).
    struct Raise {
        double gain = 0.0;
        size_t layer = 0;
        int64_t rank = -1;
    };
    static constexpr int kRaiseSteps = 4; // alignment steps a raise may span
    static constexpr int kExchangePasses = 3;
    static constexpr double kGapWorthSearching = 1e-6; // relative to the objective
    Raise bestRaise(const std::vector<int64_t>& ranks, int64_t available,
                    size_t skip = size_t(-1)) const;
    // Every raise of up to kRaiseSteps steps that costs at most `available`, largest gain first.
    std::vector<Raise> raisesWithin(const std::vector<int64_t>& ranks, int64_t available) const;
    void improve(std::vector<int64_t>& ranks, int64_t budget, double lowerBound) const;
    Plan largestUniformWithin(int64_t budget) const;
    double weighted(size_t layer, int64_t rank) const;
    Plan finish(std::vector<int64_t> ranks, double lowerBound) const;

    std::vector<PlanLayer> m_layers;
    std::vector<RankRange> m_ranges;
    std::vector<Hull> m_hulls;
    std::vector<Segment> m_order;      // all hull segments, best ratio first
    std::vector<int64_t> m_prefixCost; // parameters of the first k segments, k = 0 .. S
    std::vector<double> m_prefixGain;  // weighted error they remove
    int64_t m_minParameters = 0;
    int64_t m_maxParameters = 0;
    int64_t m_fullRankParameters = 0;
    int64_t m_smallestStep = 0;
    double m_baseObjective = 0.0; // objective with every layer at its lowest rank
};

} // namespace rs
