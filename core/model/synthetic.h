#pragma once

#include "model/config.h"

#include <cstdint>
#include <filesystem>

namespace rs {

// Writes a randomly initialised LLaMA-family checkpoint (config.json + model.safetensors) into
// `dir`: weights ~ N(0, 0.02) as in the usual initialisation, norms at 1, biases when the config
// asks for them. For benchmarks and tests that need a model larger than the bundled one or of
// another variant (GQA layout, q/k/v biases); never a substitute for real weights.
void writeRandomLlama(const std::filesystem::path& dir, const ModelConfig& config, uint64_t seed);

// A configuration of about 125M parameters (LLaMA layout, 12 layers of width 768, vocab 32000,
// tied embeddings) used by the throughput benchmark.
ModelConfig llama125mConfig();

} // namespace rs
