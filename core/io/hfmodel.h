#pragma once

#include "io/checkpoint.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rs {

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
};

// Every tensor a LlamaForCausalLM with `config` must have, with its shape, in model order:
// embed_tokens [vocab, hidden]; per layer q/k/v/o_proj (+ q/k/v biases with attention_bias, and
// o_proj's bias for llama, whose attention_bias covers it too), gate/up/down_proj (+ biases with
// mlp_bias), input_layernorm, post_attention_layernorm; model.norm; lm_head unless tied.
std::vector<TensorSpec> llamaTensorSpecs(const ModelConfig& config);

// Every tensor of a model directory (model.safetensors, or the shards of its index, each mapped
// once) as a read-only view of its file in the stored dtype, in file order, with no check against
// an architecture (exports hold GPTQ and factor tensors too). config.json is not read: `config`
// keeps its defaults.
Checkpoint mapModelTensors(const std::filesystem::path& dir);

// Loads a Hugging Face model directory: config.json and either model.safetensors or a sharded
// model.safetensors.index.json (each shard mapped once). Checks that every tensor of
// llamaTensorSpecs() is present, floating-point and of the right shape before copying anything,
// e.g. "<dir>/model.safetensors: missing tensor model.layers.3.mlp.up_proj.weight". Tensors the
// model does not need (e.g. rotary inv_freq buffers) are kept too. Floating tensors are converted
// to `floatType`; without one every tensor is a read-only view of its mapped shard in the stored
// dtype (see mappedTensor()) and nothing is read until it is used.
Checkpoint loadHfModelDir(const std::filesystem::path& dir,
                          std::optional<at::ScalarType> floatType);

} // namespace rs
