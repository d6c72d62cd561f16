#pragma once

#include "arch/model_config.h"

#include <ATen/core/Tensor.h>
#include <vector>

namespace rs {

// Rotary position embedding tables in the rotate-half convention: for position p and channel c,
// cos[p][c] = cos(p * f[c mod d/2]) (likewise sin), f the per-pair inverse frequencies.
struct RopeTables {
    at::Tensor cos; // [max_positions, head_dim], float32
    at::Tensor sin;
};

// The head_dim/2 inverse frequencies theta^(-2i/d), with llama3 or linear scaling applied.
std::vector<double> ropeInverseFrequencies(const ModelConfig& config);

RopeTables buildRopeTables(const ModelConfig& config);

} // namespace rs
