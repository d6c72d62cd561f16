#pragma once

#include "arch/model_config.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rs {

// Writes a randomly initialised LLaMA-family checkpoint (config.json + model.safetensors) into
// `dir`: weights ~ N(0, 0.02) as in the usual initialisation, norms at 1, biases when the config
// asks for them. For benchmarks and tests that need a model larger than the bundled one or of
// another variant (GQA layout, q/k/v biases); never a substitute for real weights.
void writeRandomLlama(const std::filesystem::path& dir, const ModelConfig& config, uint64_t seed);

// A configuration of about 125M parameters (LLaMA layout, 12 layers of width 768, vocab 32000,
// tied embeddings) used by the throughput benchmark.
ModelConfig llama125mConfig();

// The architectures of real models by name, for checkpoints of their exact shapes:
// "tinyllama-1.1b" (TinyLlama 1.1B: 22 blocks of width 2048, GQA 32/4, vocab 32000) and
// "llama3-8b" (Llama 3 8B: 32 blocks of width 4096, GQA 32/8, vocab 128256). Fails with
// "<shape>: unknown model shape (known: ...)".
ModelConfig scaleModelConfig(const std::string& shape);
std::vector<std::string> scaleModelShapes();

struct ScaleModelOptions {
    std::string dtype = "bfloat16"; // "bfloat16", "float32" or "float16"
    std::optional<int64_t> blocks;  // only the first N decoder blocks (num_hidden_layers = N)
    // Another vocabulary size than the shape's (tests keep it small); BOS/EOS ids that it cannot
    // hold become Llama 2's 1 and 2.
    std::optional<int64_t> vocab;
    uint64_t maxShardBytes = uint64_t(1) << 30;
    uint64_t seed = 0;
    // Where tokenizer.model / tokenizer.bin are copied from; empty for none. tokenizer.model is
    // copied when its vocabulary fits the model's; tokenizer.bin only when it matches exactly,
    // since llama2.c reads exactly vocab_size entries and refuses a shorter file.
    std::filesystem::path tokenizerDir;
};

struct ScaleModelResult {
    ModelConfig config;                                  // as written to config.json
    std::vector<std::pair<std::string, uint64_t>> files; // every file written, with its size
    std::vector<std::string> skipped;                    // tokenizer files left out, and why
    int64_t parameters = 0;
    uint64_t tensorBytes = 0;
};

// Writes a random-weight checkpoint of `shape` (with the options applied) into `dir` like
// writeRandomLlama, for scale tests and benchmarks: weights ~ N(0, 0.02) computed in float32 and
// rounded to the dtype, norms at 1. Above maxShardBytes the weights go into Hugging Face shards
// (model-0000i-of-0000N.safetensors + model.safetensors.index.json), else into model.safetensors.
// Tensors are generated while their shard is written and dropped right after, so memory stays
// at about the largest tensor whatever the model's size. Each tensor has its own random stream
// from (seed, name): the same seed gives the same bytes (with the same LibTorch and CPU), and a
// tensor's values do not depend on the thread count, blocks, shard size or dtype. Checkpoint files
// already in `dir` (config.json, model.safetensors, the index and shards) are replaced; config.json
// is written last, so an interrupted write leaves no directory that looks complete.
ScaleModelResult writeScaleModel(const std::filesystem::path& dir, const ModelConfig& shape,
                                 const ScaleModelOptions& options = {});

} // namespace rs
