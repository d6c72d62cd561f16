#pragma once

#include <ATen/core/Tensor.h>
#include <string>

namespace rs {

struct InputStats;

// Checks shared by every compression method; each failure reads "<layerName>: <problem>".

// A non-empty 2-D floating-point weight without NaN or Inf, returned as float32.
at::Tensor checkedWeight(const at::Tensor& weight, const std::string& layerName);

// Statistics for a data-aware method: present, with tokens, a [d_in, d_in] gram matrix matching
// the weight, and no NaN or Inf.
const InputStats& checkedStats(const InputStats* stats, int64_t dIn, const std::string& methodId,
                               const std::string& layerName);

} // namespace rs
