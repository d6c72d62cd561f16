#pragma once

#include "compress/quantgrid.h"
#include "compress/rtn.h"
#include "methods/registry.h"
#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <optional>
#include <string>

namespace rs {

struct InputStats;

struct CompressedWeight {
    at::Tensor weight;              // W_c, dequantised, float32 [d_out, d_in]
    std::optional<QuantGrid> quant; // set by quantizing methods; dequantize(*quant) == weight
    at::Tensor mask; // bool [d_out, d_in] kept entries; undefined for methods that don't prune
    double sparsity = 0.0; // fraction of entries the mask removes
};

// Applies a Compression method of the registry to one weight (any float dtype and device; the
// result stays on that device): "none" (the weight as float32, unchanged), "rtn", "gptq",
// "q8_0", "q4_0" (llama.cpp's blocks, compress/ggml_quants.h), "magnitude", "wanda" (pruning,
// then RTN of the survivors when bits > 0; pruned entries stay exactly 0). `stats` (the layer
// input's calibration statistics) is required by the data-aware methods (GPTQ, Wanda) and ignored
// by the others. Fails with "<layerName>: <problem>" for NaN/Inf weights or statistics, missing
// statistics or statistics of another d_in, or a shape the method cannot handle. Long methods
// (GPTQ) honour job's cancellation and report progress.
CompressedWeight compressWeight(const MethodConfig& method, const at::Tensor& weight,
                                const InputStats* stats, const std::string& layerName,
                                const JobContext& job = {});

} // namespace rs
