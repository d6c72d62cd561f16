#pragma once

#include <cstddef>
#include <vector>

namespace rs {

// A configuration in a trade-off: its size (any unit, e.g. bits per weight) and its error (any
// score where lower is better).
struct TradeoffPoint {
    double size = 0.0;
    double error = 0.0;
};

// The indices of the points that no other point beats in both size and error (smaller or equal
// in both, smaller in one), by increasing size. Of equal points the first is kept.
std::vector<size_t> paretoFront(const std::vector<TradeoffPoint>& points);

// Spearman's rank correlation of x and y (ties get their average rank; Pearson correlation of
// the ranks). Fails for fewer than two pairs, different lengths or a constant input.
double spearman(const std::vector<double>& x, const std::vector<double>& y);

} // namespace rs
