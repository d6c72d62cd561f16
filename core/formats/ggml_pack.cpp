#include "formats/ggml_pack.h"

#include "util/error.h"

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <cstring>

namespace rs {

namespace {

uint16_t halfBits(float x) {
    return c10::Half(x).x;
}

float halfValue(uint16_t bits) {
    return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

} // namespace

gguf::TensorType ggufTypeOf(GgmlBlockType type) {
    return type == GgmlBlockType::Q8_0 ? gguf::TensorType::Q8_0 : gguf::TensorType::Q4_0;
}

std::vector<uint8_t> encodeFloats(const at::Tensor& values, gguf::TensorType type,
                                  const std::string& name) {
    if (type != gguf::TensorType::F32 && type != gguf::TensorType::F16)
        fail("encodeFloats", std::string("not a float type: ") + gguf::typeName(type));
    const at::Tensor t =
        values.to(at::kCPU, type == gguf::TensorType::F32 ? at::kFloat : at::kHalf).contiguous();
    if (!at::isfinite(t).all().item<bool>())
        fail(name, std::string("has values that are not finite in ") + gguf::typeName(type) +
                       (type == gguf::TensorType::F16 ? " (beyond its range of 65504; export in "
                                                        "float32)"
                                                      : ""));
    std::vector<uint8_t> out(t.nbytes());
    std::memcpy(out.data(), t.data_ptr(), out.size());
    return out;
}

std::vector<uint8_t> encodeBlocks(const QuantGrid& grid, GgmlBlockType type,
                                  const std::string& layerName) {
    const int64_t dOut = grid.codes.size(0), dIn = grid.codes.size(1);
    const int zero = type == GgmlBlockType::Q8_0 ? 128 : 8;
    if (grid.groupSize != kGgmlBlock || dIn % kGgmlBlock != 0 ||
        !grid.zeros.eq(zero).all().item<bool>())
        fail(layerName, std::string("its grid is not one of ") + ggmlBlockTypeName(type) +
                            " blocks (groups of 32, zero point " + std::to_string(zero) + ")");
    const at::Tensor codes = grid.codes.to(at::kCPU).contiguous();
    const at::Tensor scales = grid.scales.to(at::kCPU, at::kFloat).contiguous();
    const uint8_t* q = codes.data_ptr<uint8_t>();
    const float* d = scales.data_ptr<float>();
    const int64_t blocks = dOut * dIn / kGgmlBlock;
    const uint64_t size = gguf::blockBytes(ggufTypeOf(type));
    std::vector<uint8_t> out(static_cast<size_t>(blocks) * size);
    for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* block = out.data() + b * size;
        const uint16_t scale = halfBits(d[b]);
        std::memcpy(block, &scale, sizeof scale);
        const uint8_t* code = q + b * kGgmlBlock;
        if (type == GgmlBlockType::Q8_0) {
            for (int64_t j = 0; j < kGgmlBlock; ++j)
                block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(code[j] - 128));
        } else {
            for (int64_t j = 0; j < kGgmlBlock / 2; ++j)
                block[2 + j] = static_cast<uint8_t>(code[j] | (code[j + kGgmlBlock / 2] << 4));
        }
    }
    return out;
}

at::Tensor decodeTensor(std::span<const std::byte> bytes, gguf::TensorType type,
                        const std::vector<int64_t>& shape, const std::string& name) {
    const gguf::TensorInfo info{name, shape, type};
    if (bytes.size() != info.byteSize())
        fail(name, "has " + std::to_string(bytes.size()) + " bytes, expected " +
                       std::to_string(info.byteSize()) + " for " + gguf::typeName(type));
    int64_t count = 1;
    for (int64_t d : shape)
        count *= d;
    at::Tensor out = at::empty({count}, at::kFloat);
    float* x = out.data_ptr<float>();
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    switch (type) {
    case gguf::TensorType::F32:
        std::memcpy(x, p, bytes.size());
        break;
    case gguf::TensorType::F16:
        for (int64_t i = 0; i < count; ++i) {
            uint16_t h;
            std::memcpy(&h, p + 2 * i, 2);
            x[i] = halfValue(h);
        }
        break;
    case gguf::TensorType::Q8_0:
    case gguf::TensorType::Q4_0: {
        const bool q8 = type == gguf::TensorType::Q8_0;
        const uint64_t size = gguf::blockBytes(type);
        for (int64_t b = 0; b < count / kGgmlBlock; ++b) {
            const uint8_t* block = p + b * size;
            uint16_t h;
            std::memcpy(&h, block, 2);
            const float d = halfValue(h);
            float* v = x + b * kGgmlBlock;
            for (int64_t j = 0; j < kGgmlBlock; ++j) {
                const int q = q8 ? static_cast<int8_t>(block[2 + j])
                                 : ((block[2 + j % 16] >> (j < 16 ? 0 : 4)) & 0xF) - 8;
                v[j] = static_cast<float>(q) * d;
            }
        }
        break;
    }
    }
    return out.reshape(shape);
}

std::optional<GgmlBlockType> ggmlBlocksOf(const QuantGrid& grid) {
    if ((grid.bits != 8 && grid.bits != 4) || grid.groupSize != kGgmlBlock || !grid.codes.defined())
        return std::nullopt;
    const GgmlBlockType type = grid.bits == 8 ? GgmlBlockType::Q8_0 : GgmlBlockType::Q4_0;
    const int64_t dIn = grid.codes.size(1);
    if (dIn % kGgmlBlock != 0 || !grid.zeros.eq(grid.bits == 8 ? 128 : 8).all().item<bool>())
        return std::nullopt;
    const at::Tensor scales = grid.scales.to(at::kCPU, at::kFloat);
    if (!scales.to(at::kHalf).to(at::kFloat).equal(scales))
        return std::nullopt;
    if (grid.groupIndex.defined()) {
        const at::Tensor consecutive =
            at::arange(dIn, at::TensorOptions().dtype(at::kLong)).div(kGgmlBlock, "floor");
        if (!grid.groupIndex.to(at::kCPU, at::kLong).equal(consecutive))
            return std::nullopt;
    }
    return type;
}

} // namespace rs
