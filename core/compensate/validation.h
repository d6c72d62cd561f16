#pragma once

#include <ATen/core/Tensor.h>
#include <algorithm>
#include <string>

// Input checks shared by the low-rank entry points (internal).
namespace rs {

struct InputStats;

namespace compensate {

// A layer's error and calibration Gram, validated and brought to float64 on the error's device.
struct LayerInputs {
    at::Tensor error; // dW [d_out, d_in], float64 (as given from checkedInputs)
    at::Tensor gram;  // C, float64 [d_in, d_in]
    int64_t dOut = 0;
    int64_t dIn = 0;
    int64_t maxRank() const { return std::min(dOut, dIn); }
};

// Fails with "<layer>: <problem>" for a non-matrix or non-finite dW, missing, mis-sized or
// non-finite statistics.
LayerInputs validatedInputs(const at::Tensor& weightError, const InputStats& stats,
                            const std::string& layerName);
// The same checks with `error` left in dW's own dtype: for a caller that holds dW in float64
// elsewhere already (a basis), where a second copy would cost 470 MB for down_proj of an 8B model.
LayerInputs checkedInputs(const at::Tensor& weightError, const InputStats& stats,
                          const std::string& layerName);
// C of `stats`, checked (present, square, finite) as it is, failing with "<name>: <problem>".
at::Tensor validatedGram(const InputStats& stats, const std::string& name);

// The EoRA tolerance for eigenvalues of C: l_max * max(1, d_in) * eps_float32.
double gramTolerance(double largestEigenvalue, int64_t dIn);

} // namespace compensate
} // namespace rs
