#pragma once

#include <ATen/core/Tensor.h>
#include <cstdint>

namespace rs {

// Scaled dot-product attention of queries q [batch, heads, time, dim] over keys and values
// [batch, kvHeads, span, dim] (heads a multiple of kvHeads), returning [batch, heads, time, dim].
// maskBias is the [time, span] additive causal mask of queries at positions start.. (undefined:
// every query sees every key, as for one new token). Softmax runs in float32.
at::Tensor groupedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& maskBias, int64_t start);

} // namespace rs
