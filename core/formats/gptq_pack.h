#pragma once

#include "compress/quantgrid.h"

#include <ATen/core/Tensor.h>
#include <optional>
#include <string>
#include <utility>

// The GPTQ v1 checkpoint layout (docs/design.md §3), as AutoGPTQ, GPTQModel, Transformers and vLLM
// read it. Codes are b-bit unsigned integers packed as one little-endian bit stream per column:
// code k of a column sits at bit b*k of the stream, stored in 32-bit words. For 2, 4 and 8 bits
// that is "code j of a word at bit b*j"; for 3 bits a code may straddle two words (AutoGPTQ's
// 32-codes-in-3-words layout is exactly this stream).
namespace rs {

// Packs values [n, m] (integers in 0 .. 2^bits - 1, any integer dtype) along dimension 0 into
// int32 [n * bits / 32, m]. Fails unless n * bits is a multiple of 32 and every value fits.
at::Tensor packBits(const at::Tensor& values, int bits);

// The inverse of packBits: int32 [n * bits / 32, m] -> int32 [n, m].
at::Tensor unpackBits(const at::Tensor& packed, int bits, int64_t n);

// The four tensors of one quantized linear (d_out x d_in).
struct GptqTensors {
    at::Tensor qweight; // int32 [d_in * b / 32, d_out]
    at::Tensor qzeros;  // int32 [n_groups, d_out * b / 32], holding zero - 1
    at::Tensor scales;  // float16 [n_groups, d_out]
    at::Tensor gIdx;    // int32 [d_in]
};

// Why the format cannot hold this grid so that every GPTQ loader reads it (bits other than
// 2/3/4/8, a d_in or d_out that is not a multiple of 32 at any bits, a d_in that is not a
// multiple of the group size, a zero point of 0 -- v1 stores zero - 1 -- or a scale that float16
// cannot hold); nullopt when it can.
std::optional<std::string> gptqIncompatibility(const QuantGrid& grid);
// The part of it that the shape alone decides (bits, d_out, d_in, group size; -1: one group).
std::optional<std::string> gptqShapeIncompatibility(int bits, int64_t dOut, int64_t dIn,
                                                    int64_t groupSize);

// The linears a runtime fuses into one matmul (vLLM: q/k/v and gate/up), by their shared input:
// "model.layers.3.self_attn.qkv", "model.layers.3.mlp.gate_up"; empty for a linear never fused.
// vLLM refuses a fused layer whose shards are partly quantized, so siblings share one verdict.
std::string fusedGroup(const std::string& linearName);

// The grid in GPTQ v1 form; fails with the reason above when gptqIncompatibility() has one.
GptqTensors toGptq(const QuantGrid& grid, const std::string& layerName);

// Checks the four tensors' shapes against each other and `bits` without reading any values;
// returns {d_out, d_in}. Errors name `layerName`.
std::pair<int64_t, int64_t> checkGptqShapes(const GptqTensors& t, int bits,
                                            const std::string& layerName);

// The float32 weight [d_out, d_in] a loader computes: (q - (z + 1)) * scale[g_idx], the scale
// taken as stored (float16). Shapes are checked against each other; errors name `layerName`.
at::Tensor dequantizeGptq(const GptqTensors& t, int bits, const std::string& layerName);

} // namespace rs
