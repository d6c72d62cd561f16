#pragma once

#include <ATen/core/Tensor.h>

// The asymmetric / symmetric uniform grid shared by RTN and GPTQ (docs/design.md §2), internal to
// core/compress. The arithmetic runs in float64 so that rounding decisions do not depend on the
// device's float32 division; the scale is then stored as float32 and the codes are the nearest
// points of that stored grid.
namespace rs::grid {

struct Params {
    at::Tensor scale; // float32, > 0
    at::Tensor zero;  // float64 holding integers in 0 .. 2^bits - 1
};

// From the range of each group, xmin = min(0, min w) <= 0 <= xmax = max(0, max w) (float64):
//   asymmetric: scale = (xmax - xmin) / (2^b - 1),   zero = round(-xmin / scale)
//   symmetric:  scale = 2 max(-xmin, xmax) / (2^b - 1), zero = 2^(b-1)
// A zero range (all-zero group) or a scale that underflows float32 gets scale 1, so the group's
// weights all land on code `zero`, which dequantises to exactly 0.
Params fromRange(const at::Tensor& xmin, const at::Tensor& xmax, int bits, bool symmetric);

// Fits one grid per row of w [rows, k] (all its columns form the group).
Params fitRows(const at::Tensor& w, int bits, bool symmetric);

// q = clamp(round(w / scale) + zero, 0, 2^b - 1) (round half to even), float64. scale and zero
// broadcast against w.
at::Tensor codes(const at::Tensor& w, const at::Tensor& scale, const at::Tensor& zero, int bits);

// (q - zero) * scale in float32: bit-identical to dequantize() of a QuantGrid.
at::Tensor values(const at::Tensor& codes, const at::Tensor& scale, const at::Tensor& zero);

// Fails unless 1 <= bits <= 8 (codes are stored as uint8).
void checkBits(int bits);

} // namespace rs::grid
