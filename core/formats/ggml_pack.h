#pragma once

#include "compress/ggml_quants.h"
#include "compress/quantgrid.h"
#include "formats/gguf.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

// Tensors in ggml's byte encodings, as a GGUF file stores them (docs/design.md §3).
// - F32, F16: the values row by row (F16 rounded to nearest even).
// - Q8_0: per block of 32 inputs, the float16 scale d, then 32 int8 codes q (value q d).
// - Q4_0: per block, the float16 scale d, then 16 bytes: byte j holds input j in its low nibble
//   and input j + 16 in its high nibble (value (q - 8) d).
namespace rs {

// A float tensor (any float dtype) as F32 or F16 bytes. Fails naming the tensor when a value is
// not finite in that type (NaN, or beyond float16's range).
std::vector<uint8_t> encodeFloats(const at::Tensor& values, gguf::TensorType type,
                                  const std::string& name);

// A grid from quantizeGgml (groups of 32, zero point 128 or 8, float16-exact scales) as Q8_0 or
// Q4_0 blocks. Fails naming the layer for a grid of another shape.
std::vector<uint8_t> encodeBlocks(const QuantGrid& grid, GgmlBlockType type,
                                  const std::string& layerName);

// The float32 values of stored bytes of the given type and shape (what llama.cpp computes with).
// Fails naming the tensor when the bytes do not have the size of that shape.
at::Tensor decodeTensor(std::span<const std::byte> bytes, gguf::TensorType type,
                        const std::vector<int64_t>& shape, const std::string& name);

gguf::TensorType ggufTypeOf(GgmlBlockType type);

// The ggml block type a grid's values can be stored in exactly (what quantizeGgml produces:
// groups of 32 consecutive inputs, zero point 128 for 8 bits or 8 for 4 bits, float16-exact
// scales); nullopt for any other grid (asymmetric, other groups, act-order, ...).
std::optional<GgmlBlockType> ggmlBlocksOf(const QuantGrid& grid);

} // namespace rs
