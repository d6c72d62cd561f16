#pragma once

#include "arch/model_config.h"

#include <filesystem>
#include <string>
#include <string_view>

namespace rs {

// Parses a Hugging Face config.json of the LLaMA family (model_type llama -- which includes
// SmolLM/SmolLM2 and TinyLlama -- mistral, qwen2), applies the Transformers defaults
// (num_key_value_heads = num_attention_heads, head_dim = hidden_size / num_attention_heads, qwen2
// always has q/k/v biases) and validates the result. `source` names the file in every error:
// "<source>: unsupported model_type 'gpt2' (supported: llama, mistral, qwen2)".
ModelConfig parseModelConfig(std::string_view json, const std::string& source);

// Reads and parses a config.json file.
ModelConfig readModelConfig(const std::filesystem::path& path);

} // namespace rs
