#pragma once

#include "compensate/compensation.h"

#include <ATen/core/Tensor.h>
#include <memory>
#include <string>

namespace rs {

struct InputStats;

// LoRD (Kaushal, Vaidhya, Rish 2023; docs/design.md §2): the dense weight itself is approximated by
// a factor pair, W ~ B A, and the layer becomes y = B (A x). The registry's low-rank methods name
// the input weighting of the fit: Identity (lord-weight, and Lillama's start) is the truncated SVD
// of W, the best Frobenius approximation, blind to the inputs; Gram (lord-data) takes B = top-r
// eigenvectors of W C W^T and A = B^T W, the minimiser of ||(W - BA) X^T||.
//
// One decomposition of a layer's weight, reused for every rank: the compensation machinery of
// compensate/ applied to W instead of dW (a compensation with W_c = 0). Its errorCurve() is
// E(r) = tr((W - B_r A_r) C (W - B_r A_r)^T) for r = 0 .. min(d_out, d_in), E(0) = tr(W C W^T).
// Fails naming the layer for a method that is not low-rank, NaN/Inf weights or statistics, or
// maxRank > min(d_out, d_in).
std::unique_ptr<CompensationBasis> buildLordBasis(const MethodConfig& method,
                                                  const at::Tensor& weight, const InputStats& stats,
                                                  int64_t maxRank, const std::string& layerName);

// Relative output error of W ~ B A on inputs with Gram matrix C: tr((W-BA) C (W-BA)^T) /
// tr(W C W^T) (0 when the layer sees no signal).
double relativeFactorError(const at::Tensor& weight, const LowRankFactors& factors,
                           const at::Tensor& gram);

} // namespace rs
