#pragma once

#include <ATen/core/Tensor.h>
#include <cstdint>

namespace rs {

// Second-moment statistics of one distinct linear input (docs/design.md §2), gathered by
// calibration.
struct InputStats {
    at::Tensor gram;    // C = sum_t x_t x_t^T, float64 [d_in, d_in], symmetric PSD
    at::Tensor meanAbs; // mean_t |x_tj|, float64 [d_in] (activation-scaled SVD, Wanda)
    int64_t tokens = 0;

    int64_t dim() const { return gram.defined() ? gram.size(0) : 0; }
    // Adds a [tokens, d_in] batch (any float dtype; accumulated in float64).
    void accumulate(const at::Tensor& x);
    // Makes C exactly symmetric (the batched products leave rounding-level asymmetry), so that
    // solvers may rebuild one triangle from the other. Call once the batches are in.
    void symmetrize();
    // Whether C holds no NaN or Inf (allFinite).
    bool finite() const;
};

// Whether every entry of `t` is finite, without a temporary of t's size (at::isfinite goes
// through abs(): 1.6 GB for down_proj's C of an 8B model): a finite sum settles it, and only a
// non-finite one (NaN, Inf, or a sum that overflows) is checked element-wise, in row slices.
bool allFinite(const at::Tensor& t);

} // namespace rs
