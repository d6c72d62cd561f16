#pragma once

#include "io/checkpoint.h"

#include <filesystem>
#include <vector>

namespace rs {

// Every tensor of a model directory (model.safetensors or its sharded index) as stored, without
// any conversion or check against an architecture (exports hold GPTQ and factor tensors too).
std::vector<NamedTensor> readModelTensors(const std::filesystem::path& dir);

} // namespace rs
