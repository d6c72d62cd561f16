#include "compensate/spectral_metrics.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace rs {

namespace {

// The power-law fit of the largest k eigenvalues (descending), cutoff lambda[k - 1]: the MLE
// exponent and the KS distance between the tail's empirical CDF and the fitted one.
// `logPrefix[k]` is the sum of log(lambda[i]) over i < k.
std::pair<double, double> fitTail(const std::vector<double>& lambda,
                                  const std::vector<double>& logPrefix, size_t k) {
    const double cutoff = lambda[k - 1];
    const double logSum = logPrefix[k] - double(k) * std::log(cutoff);
    // A flat tail has no exponent; the prefix sums leave rounding noise where the old sum was 0.
    if (lambda.front() == cutoff || !(logSum > double(k) * 1e-12))
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

// The tail sizes tried: every one up to kDenseTails, then sizes kTailStep apart, and the whole
// spectrum. Each fit costs O(k), so the search costs O(n) per layer instead of the O(n^2) of
// trying every size (seconds per layer of a 4096-wide model, for a KS distance that changes
// little between neighbouring cutoffs).
std::vector<size_t> candidateTails(size_t n) {
    std::vector<size_t> sizes;
    for (size_t k = size_t(kMinTail); k <= n; ++k) {
        if (k > size_t(kMinTail + kDenseTails))
            k = std::max(k, size_t(std::ceil(double(sizes.back()) * kTailStep)));
        sizes.push_back(std::min(k, n));
        if (sizes.back() == n)
            break;
    }
    return sizes;
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
    std::vector<double> logPrefix(lambda.size() + 1, 0.0);
    for (size_t i = 0; i < lambda.size(); ++i)
        logPrefix[i + 1] = logPrefix[i] + std::log(lambda[i]);
    double best = 2.0;
    for (const size_t k : candidateTails(lambda.size())) {
        const auto [alpha, distance] = fitTail(lambda, logPrefix, k);
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
