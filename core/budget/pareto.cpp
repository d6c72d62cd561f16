#include "budget/pareto.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rs {

std::vector<size_t> paretoFront(const std::vector<TradeoffPoint>& points) {
    std::vector<size_t> order(points.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (points[a].size != points[b].size)
            return points[a].size < points[b].size;
        return points[a].error < points[b].error;
    });
    // Scanning by size, a point is on the front when it beats every smaller one's error.
    std::vector<size_t> front;
    double best = INFINITY;
    for (size_t i : order)
        if (points[i].error < best) {
            front.push_back(i);
            best = points[i].error;
        }
    return front;
}

namespace {

std::vector<double> ranks(const std::vector<double>& v) {
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < order.size();) {
        size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]])
            ++j;
        const double average = 0.5 * double(i + j) + 1.0;
        for (size_t k = i; k <= j; ++k)
            r[order[k]] = average;
        i = j + 1;
    }
    return r;
}

} // namespace

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size())
        fail("Spearman correlation", "the two series differ in length");
    if (x.size() < 2)
        fail("Spearman correlation", "needs at least two pairs");
    const std::vector<double> rx = ranks(x), ry = ranks(y);
    const double mean = 0.5 * double(x.size() + 1);
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        sxy += (rx[i] - mean) * (ry[i] - mean);
        sxx += (rx[i] - mean) * (rx[i] - mean);
        syy += (ry[i] - mean) * (ry[i] - mean);
    }
    if (sxx == 0 || syy == 0)
        fail("Spearman correlation", "undefined for a constant series");
    return sxy / std::sqrt(sxx * syy);
}

} // namespace rs
