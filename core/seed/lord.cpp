#include "seed/lord.h"

#include "calib/stats.h"
#include "compress/quantgrid.h"
#include "compress/rtn.h"
#include "methods/registry.h"
#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

const char* lordMethodId(LordVariant variant) {
    return variant == LordVariant::WeightSvd ? "lord-weight" : "lord-data";
}

std::unique_ptr<CompensationBasis> buildLordBasis(LordVariant variant, const at::Tensor& weight,
                                                  const InputStats& stats, int64_t maxRank,
                                                  const std::string& layerName) {
    // svd and eora fit B A = U_r U_r^T M for the leading eigenvectors of M K M^T (K = I or C);
    // with M = W that is exactly LoRD's weight SVD and its data-aware variant.
    const MethodConfig method = MethodConfig::defaults(
        variant == LordVariant::WeightSvd ? "svd" : "eora", MethodKind::Compensation);
    return buildCompensationBasis(method, weight.to(at::kFloat), stats, maxRank, layerName);
}

LowRankFactors quantizeFactorPair(const LowRankFactors& factors, int bits) {
    if (bits == 0 || factors.rank() == 0)
        return factors;
    return {dequantize(quantizeRtn(factors.B, bits, -1, false)),
            dequantize(quantizeRtn(factors.A, bits, -1, false))};
}

double relativeFactorError(const at::Tensor& weight, const LowRankFactors& factors,
                           const at::Tensor& gram) {
    const at::Tensor w = weight.to(at::kFloat);
    const double energy = compensatedError(w, {}, gram);
    return energy > 0.0 ? compensatedError(w, factors, gram) / energy : 0.0;
}

} // namespace rs
