#pragma once

// The exhaustive float64 reference of the power-law fit in compensate/spectral_metrics.h: every
// tail size from kMinTail, the smallest Kolmogorov-Smirnov distance. O(n^2); the test and the
// benchmark compare the library's coarse cutoff search with it.

#include "compensate/spectral_metrics.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace rs::test {

// {alpha, KS distance} of the best fit over every tail size.
inline std::pair<double, double> exhaustivePowerLawFit(const std::vector<double>& singular) {
    std::vector<double> lambda;
    for (const double s : singular)
        lambda.push_back(s * s);
    std::sort(lambda.begin(), lambda.end(), std::greater<>());
    double bestDistance = 2.0, bestAlpha = 0.0;
    for (size_t k = size_t(rs::kMinTail); k <= lambda.size(); ++k) {
        double logSum = 0.0;
        for (size_t i = 0; i < k; ++i)
            logSum += std::log(lambda[i] / lambda[k - 1]);
        if (!(logSum > 0.0))
            continue;
        const double alpha = 1.0 + double(k) / logSum;
        double distance = 0.0;
        for (size_t j = 0; j < k; ++j) {
            const double fitted = 1.0 - std::pow(lambda[k - 1 - j] / lambda[k - 1], 1.0 - alpha);
            distance = std::max({distance, std::abs(fitted - double(j) / double(k)),
                                 std::abs(fitted - double(j + 1) / double(k))});
        }
        if (distance < bestDistance) {
            bestDistance = distance;
            bestAlpha = alpha;
        }
    }
    return {bestAlpha, bestDistance};
}

} // namespace rs::test
