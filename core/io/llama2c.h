#pragma once

#include "io/checkpoint.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <filesystem>

namespace rs {

// The 7 int32 values that open a llama2.c "legacy" checkpoint. A negative vocabSize means the
// classifier (wcls) is stored separately instead of being tied to the token embedding.
struct Llama2cHeader {
    int32_t dim = 0;
    int32_t hiddenDim = 0;
    int32_t numLayers = 0;
    int32_t numHeads = 0;
    int32_t numKvHeads = 0;
    int32_t vocabSize = 0;
    int32_t seqLen = 0;
};

// The exact file size `header` implies (28 header bytes + every float32 tensor), or fails with
// "<source>: <problem>" when the header itself is inconsistent.
uint64_t llama2cFileSize(const Llama2cHeader& header, const std::string& source);

// Imports a llama2.c legacy .bin into the Hugging Face layout: w1/w3/w2 become
// gate_proj/up_proj/down_proj, wq/wk rows are permuted from llama2.c's interleaved RoPE pairs to
// the rotate-half convention (per head, row 2i -> i and row 2i+1 -> i + head_dim/2), and wcls
// becomes lm_head.weight. The file size must match the header exactly. The config gets
// rms_norm_eps 1e-5, rope_theta 10000, bos 1, eos 2, as llama2.c hard-codes them.
Checkpoint loadLlama2c(const std::filesystem::path& path, at::ScalarType floatType = at::kFloat);

} // namespace rs
