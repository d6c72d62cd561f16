#include "io/dtype.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/ne.h>
#include <array>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

// Tensor bytes are copied verbatim; the formats we read and write are little-endian.
static_assert(std::endian::native == std::endian::little, "big-endian hosts are not supported");

namespace rs {

namespace {

struct DTypeEntry {
    DType dtype;
    std::string_view name;
    size_t size;
    at::ScalarType scalar;
};

constexpr std::array<DTypeEntry, 10> kDTypes{{
    {DType::F32, "F32", 4, at::kFloat},
    {DType::F16, "F16", 2, at::kHalf},
    {DType::BF16, "BF16", 2, at::kBFloat16},
    {DType::F64, "F64", 8, at::kDouble},
    {DType::I64, "I64", 8, at::kLong},
    {DType::I32, "I32", 4, at::kInt},
    {DType::I16, "I16", 2, at::kShort},
    {DType::I8, "I8", 1, at::kChar},
    {DType::U8, "U8", 1, at::kByte},
    {DType::Bool, "BOOL", 1, at::kBool},
}};

const DTypeEntry& entry(DType dtype) {
    for (const auto& e : kDTypes)
        if (e.dtype == dtype)
            return e;
    throw std::logic_error("unknown DType");
}

} // namespace

std::optional<DType> parseDType(std::string_view name) {
    for (const auto& e : kDTypes)
        if (e.name == name)
            return e.dtype;
    return std::nullopt;
}

std::string_view dtypeName(DType dtype) {
    return entry(dtype).name;
}
size_t dtypeSize(DType dtype) {
    return entry(dtype).size;
}
at::ScalarType toScalarType(DType dtype) {
    return entry(dtype).scalar;
}

bool isFloating(DType dtype) {
    return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 ||
           dtype == DType::F64;
}

std::optional<DType> fromScalarType(at::ScalarType type) {
    for (const auto& e : kDTypes)
        if (e.scalar == type)
            return e.dtype;
    return std::nullopt;
}

std::optional<at::ScalarType> parseFloatDtype(std::string_view name) {
    if (name == "float32")
        return at::kFloat;
    if (name == "bfloat16")
        return at::kBFloat16;
    if (name == "float16")
        return at::kHalf;
    return std::nullopt;
}

at::Tensor tensorFromBytes(std::span<const std::byte> bytes, DType dtype,
                           const std::vector<int64_t>& shape,
                           std::optional<at::ScalarType> floatType) {
    // A file's BOOL bytes may be any value; torch requires 0/1, so they go through U8.
    const DType stored = dtype == DType::Bool ? DType::U8 : dtype;
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(toScalarType(stored)));
    if (static_cast<size_t>(tensor.nbytes()) != bytes.size())
        throw std::logic_error("tensorFromBytes: byte count does not match the shape");
    // memcpy rather than from_blob: the source need not be aligned and must not be referenced.
    if (!bytes.empty())
        std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
    if (dtype == DType::Bool)
        return tensor.ne(0);
    if (floatType && isFloating(dtype) && tensor.scalar_type() != *floatType)
        return tensor.to(*floatType);
    return tensor;
}

std::string formatShape(at::IntArrayRef shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0)
            text += ", ";
        text += std::to_string(shape[i]);
    }
    return text + "]";
}

} // namespace rs
