#pragma once

#include "compress/quantgrid.h"

#include <ATen/core/Tensor.h>
#include <optional>
#include <string>

namespace rs {

// llama.cpp's own block formats, rounded exactly as ggml's reference quantizers
// (quantize_row_q8_0_ref, quantize_row_q4_0_ref) do, so that a compensation fits the error the
// runtime really has (docs/design.md §2). Blocks are 32 consecutive inputs of one output row; the
// block scale d is stored as float16, the codes are computed from the float32 d before rounding.
//
// - Q8_0: d = max|x| / 127, q = roundf(x / d) in -127..127 (half away from zero), x' = q d.
// - Q4_0: m = the block's value of largest magnitude (sign kept, first one on ties), d = m / -8,
//   q = min(15, trunc(x / d + 8.5)) in 0..15, x' = (q - 8) d.
enum class GgmlBlockType { Q8_0, Q4_0 };

inline constexpr int64_t kGgmlBlock = 32;

const char* ggmlBlockTypeName(GgmlBlockType type); // "Q8_0", "Q4_0"

// The grid of one weight [d_out, d_in] (d_in a multiple of 32): codes q + 128 (Q8_0) or q
// (Q4_0), zero point 128 or 8, one float16-exact scale per block (negative for Q4_0 blocks whose
// largest value is positive, as in ggml), groups of 32, symmetric. dequantize() of it is the
// weight llama.cpp computes with. Fails naming the layer for NaN/Inf or a d_in that is not a
// multiple of 32.
QuantGrid quantizeGgml(const at::Tensor& weight, GgmlBlockType type, const std::string& layerName);

// How llama-quantize stores a weight of this shape: in the block type when d_in is a multiple of
// 32, else in float16 (its fallback for rows that do not split into blocks).
bool ggmlBlocksFit(int64_t dIn);

} // namespace rs
