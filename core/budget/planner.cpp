#include "budget/planner.h"

#include "util/argument_error.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace rs {

namespace {

std::string count(int64_t n) {
    return std::to_string(n) + " params";
}

} // namespace

RankPlanner::RankPlanner(std::vector<PlanLayer> layers, const PlanConstraints& constraints)
    : m_layers(std::move(layers)) {
    if (m_layers.empty())
        fail("rank plan", "no layers to plan");
    std::vector<std::string> names;
    std::vector<int64_t> caps;
    for (const PlanLayer& l : m_layers) {
        if (l.curve.empty())
            fail(l.name, "has no error curve (run the compression with analysis)");
        if (l.outFeatures < 1 || l.inFeatures < 1)
            fail(l.name, "has an empty shape");
        for (double e : l.curve)
            if (!std::isfinite(e))
                fail(l.name, "its error curve contains NaN or Inf");
        if (!std::isfinite(l.weight) || l.weight < 0)
            fail(l.name, "its layer weight must be finite and non-negative (got " +
                             std::to_string(l.weight) + ")");
        names.push_back(l.name);
        caps.push_back(std::min({l.outFeatures, l.inFeatures, int64_t(l.curve.size()) - 1}));
        m_fullRankParameters += std::min(l.outFeatures, l.inFeatures) * l.rankCost();
    }
    m_ranges = resolveConstraints(constraints, names, caps);

    m_hulls.resize(m_layers.size());
    m_smallestStep = -1;
    for (size_t l = 0; l < m_layers.size(); ++l) {
        const RankRange& range = m_ranges[l];
        m_minParameters += range.lo * m_layers[l].rankCost();
        m_maxParameters += range.hi * m_layers[l].rankCost();
        m_baseObjective += weighted(l, range.lo);
        if (!range.fixed()) {
            const int64_t step = range.step * m_layers[l].rankCost();
            m_smallestStep = m_smallestStep < 0 ? step : std::min(m_smallestStep, step);
        }
        // Lower convex hull of (rank, w E(rank)) by the monotone chain; only its falling part
        // is worth parameters.
        std::vector<int64_t>& hull = m_hulls[l].ranks;
        for (int64_t r = range.lo; r <= range.hi; r += range.step) {
            while (hull.size() >= 2) {
                const int64_t r0 = hull[hull.size() - 2], r1 = hull.back();
                const double e0 = weighted(l, r0), e1 = weighted(l, r1), e2 = weighted(l, r);
                if (double(r1 - r0) * (e2 - e0) - (e1 - e0) * double(r - r0) > 0)
                    break;
                hull.pop_back();
            }
            hull.push_back(r);
        }
        size_t keep = 1;
        while (keep < hull.size() && weighted(l, hull[keep]) < weighted(l, hull[keep - 1]))
            ++keep;
        hull.resize(keep);
        double previous = INFINITY;
        for (size_t i = 0; i + 1 < hull.size(); ++i) {
            const double gain = weighted(l, hull[i]) - weighted(l, hull[i + 1]);
            const double cost = double((hull[i + 1] - hull[i]) * m_layers[l].rankCost());
            // Rounding must not let a later segment of a layer sort before an earlier one.
            previous = std::min(previous, gain / cost);
            m_order.push_back({previous, uint32_t(l), uint32_t(i)});
        }
    }
    if (m_smallestStep < 0)
        m_smallestStep = 0;
    // Within a layer the ratios fall along the hull; the tie-break keeps that order.
    std::sort(m_order.begin(), m_order.end(), [](const Segment& a, const Segment& b) {
        if (a.ratio != b.ratio)
            return a.ratio > b.ratio;
        return a.layer != b.layer ? a.layer < b.layer : a.index < b.index;
    });
    m_prefixCost.assign(m_order.size() + 1, 0);
    m_prefixGain.assign(m_order.size() + 1, 0.0);
    for (size_t k = 0; k < m_order.size(); ++k) {
        const Segment& s = m_order[k];
        const std::vector<int64_t>& hull = m_hulls[s.layer].ranks;
        m_prefixCost[k + 1] =
            m_prefixCost[k] + (hull[s.index + 1] - hull[s.index]) * m_layers[s.layer].rankCost();
        m_prefixGain[k + 1] = m_prefixGain[k] + weighted(s.layer, hull[s.index]) -
                              weighted(s.layer, hull[s.index + 1]);
        m_hulls[s.layer].positions.push_back(uint32_t(k));
    }
}

double RankPlanner::weighted(size_t layer, int64_t rank) const {
    const PlanLayer& l = m_layers[layer];
    return l.weight * l.curve[size_t(std::min<int64_t>(rank, int64_t(l.curve.size()) - 1))];
}

Plan RankPlanner::finish(std::vector<int64_t> ranks, double lowerBound) const {
    Plan plan = evaluate(ranks);
    plan.lowerBound = std::min(lowerBound, plan.objective);
    return plan;
}

Plan RankPlanner::evaluate(const std::vector<int64_t>& ranks) const {
    if (ranks.size() != m_layers.size())
        fail("rank plan", "has " + std::to_string(ranks.size()) + " ranks for " +
                              std::to_string(m_layers.size()) + " layers");
    Plan plan;
    plan.ranks = ranks;
    for (size_t l = 0; l < m_layers.size(); ++l) {
        plan.parameters += ranks[l] * m_layers[l].rankCost();
        plan.objective += weighted(l, ranks[l]);
    }
    plan.lowerBound = plan.objective;
    return plan;
}

Plan RankPlanner::optimal(int64_t budget) const {
    if (budget < 0)
        failArgument("budget", "must not be negative (got " + count(budget) + ")");
    if (budget > m_fullRankParameters)
        failArgument("budget", count(budget) +
                                   " exceeds the full-rank cost of the planned layers (" +
                                   count(m_fullRankParameters) + ")");
    if (budget < m_minParameters)
        failArgument("budget", count(budget) + " is below the " + count(m_minParameters) +
                                   " that the minimum ranks and overrides already take");
    const int64_t avail = budget - m_minParameters;
    // k: the longest prefix of the global order that fits.
    const size_t k = size_t(std::upper_bound(m_prefixCost.begin(), m_prefixCost.end(), avail) -
                            m_prefixCost.begin() - 1);
    std::vector<int64_t> ranks(m_layers.size());
    std::vector<size_t> vertex(m_layers.size());
    for (size_t l = 0; l < m_layers.size(); ++l) {
        const Hull& h = m_hulls[l];
        vertex[l] = size_t(std::lower_bound(h.positions.begin(), h.positions.end(), uint32_t(k)) -
                           h.positions.begin());
        ranks[l] = h.ranks[vertex[l]];
    }
    int64_t leftover = avail - m_prefixCost[k];
    double lowerBound = m_baseObjective - m_prefixGain[k];
    if (k < m_order.size())
        lowerBound -= m_order[k].ratio * double(leftover);

    // Fill the leftover with the best next hull segments that still fit.
    using Entry = std::pair<double, size_t>;
    std::priority_queue<Entry> next;
    const auto push = [&](size_t l) {
        const Hull& h = m_hulls[l];
        if (vertex[l] + 1 < h.ranks.size())
            next.push({m_order[h.positions[vertex[l]]].ratio, l});
    };
    if (k < m_order.size())
        for (size_t l = 0; l < m_layers.size(); ++l)
            push(l);
    while (!next.empty() && leftover >= m_smallestStep && m_smallestStep > 0) {
        const size_t l = next.top().second;
        next.pop();
        const Hull& h = m_hulls[l];
        const int64_t cost = (h.ranks[vertex[l] + 1] - ranks[l]) * m_layers[l].rankCost();
        if (cost > leftover)
            continue; // later segments of this layer need this one first
        leftover -= cost;
        ranks[l] = h.ranks[++vertex[l]];
        push(l);
    }
    // The knapsack's integrality can leave the greedy behind a plain uniform plan on a few
    // layers of very different sizes: start from whichever is better, then improve locally.
    const Plan uniformStart = largestUniformWithin(budget);
    if (uniformStart.objective < evaluate(ranks).objective)
        ranks = uniformStart.ranks;
    improve(ranks, budget, lowerBound);
    return finish(std::move(ranks), lowerBound);
}

Plan RankPlanner::largestUniformWithin(int64_t budget) const {
    int64_t lo = 0, hi = 0;
    for (const RankRange& r : m_ranges)
        hi = std::max(hi, r.hi);
    while (lo < hi) { // the largest uniform rank whose parameters fit; they grow with the rank
        const int64_t mid = lo + (hi - lo + 1) / 2;
        if (uniform(mid).parameters <= budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    return uniform(lo);
}

RankPlanner::Raise RankPlanner::bestRaise(const std::vector<int64_t>& ranks, int64_t available,
                                          size_t skip) const {
    Raise best;
    for (size_t l = 0; l < m_layers.size(); ++l) {
        if (l == skip)
            continue;
        const RankRange& range = m_ranges[l];
        const int64_t cost = range.step * m_layers[l].rankCost();
        const double now = weighted(l, ranks[l]);
        int64_t r = ranks[l] + range.step;
        for (int k = 0;
             k < kRaiseSteps && r <= range.hi && (r - ranks[l]) / range.step * cost <= available;
             ++k, r += range.step) {
            const double gain = now - weighted(l, r);
            if (gain > best.gain)
                best = {gain, l, r};
        }
    }
    return best;
}

void RankPlanner::improve(std::vector<int64_t>& ranks, int64_t budget, double lowerBound) const {
    int64_t leftover = budget - evaluate(ranks).parameters;
    // Fill what is left with the largest gains, including ranks between hull vertices.
    for (Raise r; (r = bestRaise(ranks, leftover)).rank >= 0;) {
        leftover -= (r.rank - ranks[r.layer]) * m_layers[r.layer].rankCost();
        ranks[r.layer] = r.rank;
    }
    // Pairwise exchanges (one step down on one layer, the best raise elsewhere with what that
    // frees), only while the plan may be measurably above the optimum.
    int64_t maxFreed = 0;
    for (size_t l = 0; l < m_layers.size(); ++l)
        maxFreed = std::max(maxFreed, m_ranges[l].step * m_layers[l].rankCost());
    for (int pass = 0; pass < kExchangePasses; ++pass) {
        const double objective = evaluate(ranks).objective;
        if (objective - lowerBound <= kGapWorthSearching * objective)
            return;
        std::vector<Raise> raises = raisesWithin(ranks, leftover + maxFreed);
        bool improved = false;
        for (size_t l = 0; l < m_layers.size(); ++l) {
            const RankRange& range = m_ranges[l];
            if (ranks[l] - range.step < range.lo)
                continue;
            const int64_t down = ranks[l] - range.step;
            const double loss = weighted(l, down) - weighted(l, ranks[l]);
            const int64_t available = leftover + range.step * m_layers[l].rankCost();
            for (const Raise& r : raises) {
                if (r.gain <= loss * (1 + 1e-12))
                    break; // sorted by gain: nothing further pays for the step down
                const int64_t cost = (r.rank - ranks[r.layer]) * m_layers[r.layer].rankCost();
                if (r.layer == l || cost > available)
                    continue;
                leftover = available - cost;
                ranks[l] = down;
                ranks[r.layer] = r.rank;
                improved = true;
                raises = raisesWithin(ranks, leftover + maxFreed);
                break;
            }
        }
        if (!improved)
            return;
    }
}

std::vector<RankPlanner::Raise> RankPlanner::raisesWithin(const std::vector<int64_t>& ranks,
                                                          int64_t available) const {
    std::vector<Raise> out;
    for (size_t l = 0; l < m_layers.size(); ++l) {
        const RankRange& range = m_ranges[l];
        const double now = weighted(l, ranks[l]);
        int64_t r = ranks[l] + range.step;
        for (int k = 0; k < kRaiseSteps && r <= range.hi &&
                        (r - ranks[l]) * m_layers[l].rankCost() <= available;
             ++k, r += range.step)
            if (now > weighted(l, r))
                out.push_back({now - weighted(l, r), l, r});
    }
    std::sort(out.begin(), out.end(),
              [](const Raise& a, const Raise& b) { return a.gain > b.gain; });
    return out;
}

Plan RankPlanner::uniform(int64_t rank) const {
    if (rank < 0)
        failArgument("uniform rank", "must not be negative (got " + std::to_string(rank) + ")");
    std::vector<int64_t> ranks(m_layers.size());
    for (size_t l = 0; l < m_layers.size(); ++l)
        ranks[l] = m_ranges[l].floorOf(rank);
    return evaluate(ranks);
}

Plan RankPlanner::uniformFraction(double fraction) const {
    if (!(fraction >= 0) || !std::isfinite(fraction))
        failArgument("break-even fraction",
                     "must be a non-negative number (got " + std::to_string(fraction) + ")");
    std::vector<int64_t> ranks(m_layers.size());
    for (size_t l = 0; l < m_layers.size(); ++l) {
        const PlanLayer& layer = m_layers[l];
        const double breakEven =
            double(layer.outFeatures) * double(layer.inFeatures) / double(layer.rankCost());
        ranks[l] = m_ranges[l].floorOf(int64_t(std::floor(fraction * breakEven)));
    }
    return evaluate(ranks);
}

} // namespace rs
