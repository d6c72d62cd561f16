#pragma once

#include "compress/quantgrid.h"

namespace rs {

// Round-to-nearest quantization of w [d_out, d_in] (any float dtype, any device) with `bits`
// (1..8) per weight, per group of `groupSize` consecutive input columns of each row (-1: one group
// per row; a shorter last group when d_in is not a multiple). Asymmetric grid: range
// [min(0, min w), max(0, max w)], scale = range / (2^b - 1), zero = round(-min / scale).
// Symmetric grid: scale = 2 max|w| / (2^b - 1), zero = 2^(b-1). Codes: clamp(round(w / scale) +
// zero, 0, 2^b - 1), rounding half to even. Every weight is within scale / 2 of its dequantised
// value (up to the float32 rounding of the stored scale). Also used for low-rank factors.
QuantGrid quantizeRtn(const at::Tensor& w, int bits, int64_t groupSize, bool symmetric);

} // namespace rs
