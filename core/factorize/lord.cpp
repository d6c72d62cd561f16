#include "factorize/lord.h"

#include "calib/stats.h"
#include "methods/registry.h"
#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

std::unique_ptr<CompensationBasis> buildLordBasis(const MethodConfig& method,
                                                  const at::Tensor& weight, const InputStats& stats,
                                                  int64_t maxRank, const std::string& layerName) {
    if (method.kind() != MethodKind::LowRank)
        fail(layerName, "'" + method.id() + "' is not a low-rank method");
    // The projection family fits B A = U_r U_r^T M for the leading eigenvectors of M K M^T; with
    // M = W that is exactly LoRD's weight SVD (K = I) and its data-aware variant (K = C).
    return buildWeightedBasis(method.spec().traits.weighting, weight.to(at::kFloat), stats, maxRank,
                              layerName);
}

double relativeFactorError(const at::Tensor& weight, const LowRankFactors& factors,
                           const at::Tensor& gram) {
    const at::Tensor w = weight.to(at::kFloat);
    const double energy = compensatedError(w, {}, gram);
    return energy > 0.0 ? compensatedError(w, factors, gram) / energy : 0.0;
}

} // namespace rs
