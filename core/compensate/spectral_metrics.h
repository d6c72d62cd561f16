#pragma once

#include <cstdint>
#include <vector>

namespace rs {

// WeightWatcher-style metrics of a weight matrix from its singular values, computed from the
// spectra the analysis already stores (no new decomposition):
//   spectral norm  sigma_1;
//   stable rank    sum_i sigma_i^2 / sigma_1^2, the effective number of directions;
//   alpha          the exponent of a power law p(lambda) ~ lambda^-alpha fitted to the tail of
//                  the empirical spectral density of W^T W (lambda = sigma^2): the maximum-
//                  likelihood exponent for candidate lower cutoffs (every tail size up to
//                  kMinTail + kDenseTails, then sizes kTailStep apart), keeping the cutoff whose
//                  fit has the smallest Kolmogorov-Smirnov distance (Clauset, Shalizi and Newman
//                  2009). Well-trained layers show alpha of about 2 to 6; larger means less
//                  correlated, closer to random.
struct SpectralMetrics {
    double spectralNorm = 0.0;
    double stableRank = 0.0;
    double alpha = 0.0;    // 0 when the spectrum is too short to fit (under kMinTail values)
    int64_t tailSize = 0;  // eigenvalues in the fitted tail
    double ksDistance = 0; // of the chosen fit
};

constexpr int64_t kMinTail = 5;
constexpr int64_t kDenseTails = 250;
constexpr double kTailStep = 1.01;

// `singular`: the singular values in descending order (LayerRecord::weightSingular). Zeros and
// an empty spectrum give zero metrics; NaN or negative values fail.
SpectralMetrics spectralMetrics(const std::vector<double>& singular);

} // namespace rs
