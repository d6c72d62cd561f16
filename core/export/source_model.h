#pragma once

#include "io/checkpoint.h"

#include <filesystem>
#include <string>
#include <vector>

namespace rs {

// The Hugging Face model directory an export starts from, read without any conversion: every
// tensor a view of its mapped file in the stored dtype, config.json as text, and the tokenizer
// and generation files that an export copies unchanged.
struct SourceModel {
    std::filesystem::path dir;
    std::string configJson;                        // config.json as it is on disk
    ModelConfig config;                            // parsed and validated
    Checkpoint files;                              // every tensor, in file order, mapped
    std::vector<std::filesystem::path> extraFiles; // tokenizer.*, generation_config.json, ...
};

// Reads config.json and model.safetensors (or a sharded index). A llama2.c .bin file or a
// directory without config.json is refused: exports preserve the original config, so there
// must be one.
SourceModel readSourceModel(const std::filesystem::path& dir);

// The name the source model goes by, for a PEFT adapter's base_model_name_or_path: its
// config's `_name_or_path` when set, else the name of its directory.
std::string sourceModelName(const SourceModel& source);

// Files beside the weights that belong to the tokenizer or to generation and are copied into
// an export unchanged.
bool isCopiedModelFile(const std::string& fileName);

} // namespace rs
