#pragma once

#include <ATen/core/Tensor.h>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace rs {

// The element types of the safetensors format (docs/design.md §3), all little-endian.
enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

// "F32" -> DType::F32; nullopt for a name the format does not define (or we do not support).
std::optional<DType> parseDType(std::string_view name);
std::string_view dtypeName(DType dtype);
size_t dtypeSize(DType dtype);
bool isFloating(DType dtype);

at::ScalarType toScalarType(DType dtype);
// nullopt for torch types safetensors cannot hold (complex, quantized, ...).
std::optional<DType> fromScalarType(at::ScalarType type);

// "float32" / "bfloat16" / "float16" -> the torch type; nullopt for anything else.
std::optional<at::ScalarType> parseFloatDtype(std::string_view name);

// Copies little-endian element bytes into a new tensor that owns its memory (the source may be an
// mmap that is unmapped later). Floating tensors are converted to `floatType` when it is given;
// integer and bool tensors keep their type. `bytes` must hold exactly dtypeSize x numel bytes.
at::Tensor tensorFromBytes(std::span<const std::byte> bytes, DType dtype,
                           const std::vector<int64_t>& shape,
                           std::optional<at::ScalarType> floatType = std::nullopt);

// "[172, 64]", for error messages.
std::string formatShape(at::IntArrayRef shape);

} // namespace rs
