#pragma once

#include "model/config.h"

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <vector>

namespace rs {

struct NamedTensor {
    std::string name;
    at::Tensor tensor;
};

// A model as read from disk: its architecture and every tensor under its Hugging Face
// LlamaForCausalLM name ("model.layers.0.self_attn.q_proj.weight", ...). Both the HF directory
// reader and the llama2.c importer produce this layout, so everything downstream sees one form.
struct Checkpoint {
    std::filesystem::path source;  // the directory or file it was read from
    std::string format;            // "safetensors", "safetensors (3 shards)", "llama2.c"
    ModelConfig config;
    std::vector<NamedTensor> tensors;

    const at::Tensor* find(const std::string& name) const;
    // Like find(), but fails with "<source>: missing tensor <name>" when absent.
    const at::Tensor& require(const std::string& name) const;
};

// Opens a Hugging Face model directory (config.json + model.safetensors or a sharded index) or a
// llama2.c .bin file. Floating-point tensors are converted to `dtype` ("float32", "bfloat16",
// "float16"); integer tensors are kept as they are.
Checkpoint loadCheckpoint(const std::filesystem::path& path, const std::string& dtype = "float32");

} // namespace rs
