#include "compensate/spectral_metrics.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace rs {

namespace {

// The power-law fit of the largest k eigenvalues (descending), cutoff lambda[k - 1]: the MLE
// exponent and the KS distance between the tail's empirical CDF and the fitted one.
std::pair<double, double> fitTail(const std::vector<double>& lambda, size_t k) {
    const double cutoff = lambda[k - 1];
    double logSum = 0.0;
    for (size_t i = 0; i < k; ++i)
        logSum += std::log(lambda[i] / cutoff);
    if (!(logSum > 0.0))
        return {0.0, 1.0};
    const double alpha = 1.0 + double(k) / logSum;
    // Ascending through the tail: the i-th smallest has empirical CDF i / k.
    double distance = 0.0;
    for (size_t j = 0; j < k; ++j) {
        const double x = lambda[k - 1 - j];
        const double fitted = 1.0 - std::pow(x / cutoff, 1.0 - alpha);
        distance = std::max({distance, std::abs(fitted - double(j) / double(k)),
                             std::abs(fitted - double(j + 1) / double(k))});
    }
    return {alpha, distance};
}

} // namespace

SpectralMetrics spectralMetrics(const std::vector<double>& singular) {
    SpectralMetrics m;
    std::vector<double> lambda;
    for (size_t i = 0; i < singular.size(); ++i) {
        const double s = singular[i];
        if (!(s >= 0.0) || !std::isfinite(s))
            throw Error("singular value " + std::to_string(i) + " is " + std::to_string(s) +
                        ": spectral metrics need finite, non-negative values");
        if (s > 0.0)
            lambda.push_back(s * s);
    }
    if (lambda.empty())
        return m;
    std::sort(lambda.begin(), lambda.end(), std::greater<>());
    m.spectralNorm = std::sqrt(lambda.front());
    double energy = 0.0;
    for (const double l : lambda)
        energy += l;
    m.stableRank = energy / lambda.front();
    if (int64_t(lambda.size()) < kMinTail)
        return m;
    double best = 2.0;
    for (size_t k = size_t(kMinTail); k <= lambda.size(); ++k) {
        const auto [alpha, distance] = fitTail(lambda, k);
        if (alpha > 0.0 && distance < best) {
            best = distance;
            m.alpha = alpha;
            m.tailSize = int64_t(k);
            m.ksDistance = distance;
        }
    }
    return m;
}

} // namespace rs
