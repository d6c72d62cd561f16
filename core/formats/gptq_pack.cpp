#include "formats/gptq_pack.h"

#include "io/dtype.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <regex>

namespace rs {

namespace {

bool packable(int bits) {
    return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

std::string text(int64_t v) {
    return std::to_string(v);
}

} // namespace

at::Tensor packBits(const at::Tensor& values, int bits) {
    if (!packable(bits))
        fail("GPTQ packing", "bits must be 2, 3, 4 or 8, got " + std::to_string(bits));
    if (values.dim() != 2)
        fail("GPTQ packing", "needs a 2-D tensor of codes");
    const int64_t n = values.size(0), m = values.size(1);
    if (n * bits % 32 != 0)
        fail("GPTQ packing", text(n) + " codes of " + std::to_string(bits) +
                                 " bits do not fill whole 32-bit words");
    const at::Tensor v = values.to(at::kCPU, at::kLong).contiguous();
    const uint32_t mask = (1u << bits) - 1;
    if (v.numel() > 0 &&
        (v.min().item<int64_t>() < 0 || v.max().item<int64_t>() > static_cast<int64_t>(mask)))
        fail("GPTQ packing", "a code does not fit in " + std::to_string(bits) + " bits");
    at::Tensor out = at::zeros({n * bits / 32, m}, at::kInt);
    const int64_t* in = v.data_ptr<int64_t>();
    auto* words = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
    for (int64_t k = 0; k < n; ++k) {
        const int64_t bit = k * bits, word = bit / 32;
        const int shift = static_cast<int>(bit % 32);
        for (int64_t c = 0; c < m; ++c) {
            const auto code = static_cast<uint32_t>(in[k * m + c]);
            words[word * m + c] |= code << shift;
            if (shift + bits > 32) // 3 bits: the code continues in the next word
                words[(word + 1) * m + c] |= code >> (32 - shift);
        }
    }
    return out;
}

at::Tensor unpackBits(const at::Tensor& packed, int bits, int64_t n) {
    if (!packable(bits))
        fail("GPTQ unpacking", "bits must be 2, 3, 4 or 8, got " + std::to_string(bits));
    if (packed.dim() != 2 || packed.scalar_type() != at::kInt || n * bits % 32 != 0 ||
        packed.size(0) != n * bits / 32)
        fail("GPTQ unpacking",
             "expected int32 [" + text(n * bits / 32) + ", m], got " + formatShape(packed.sizes()));
    const int64_t m = packed.size(1);
    const at::Tensor p = packed.to(at::kCPU).contiguous();
    const auto* words = reinterpret_cast<const uint32_t*>(p.data_ptr<int32_t>());
    const uint32_t mask = (1u << bits) - 1;
    at::Tensor out = at::empty({n, m}, at::kInt);
    int32_t* o = out.data_ptr<int32_t>();
    for (int64_t k = 0; k < n; ++k) {
        const int64_t bit = k * bits, word = bit / 32;
        const int shift = static_cast<int>(bit % 32);
        for (int64_t c = 0; c < m; ++c) {
            uint32_t code = words[word * m + c] >> shift;
            if (shift + bits > 32)
                code |= words[(word + 1) * m + c] << (32 - shift);
            o[k * m + c] = static_cast<int32_t>(code & mask);
        }
    }
    return out;
}

std::optional<std::string> gptqShapeIncompatibility(int b, int64_t dOut, int64_t dIn,
                                                    int64_t groupSize) {
    if (!packable(b))
        return std::to_string(b) + "-bit codes (GPTQ packs 2, 3, 4 or 8 bits)";
    // Whatever the bits: AutoGPTQ sizes qweight and qzeros as d / 32 * bits, and vLLM's GPTQ
    // kernels step through the inputs 32 at a time without handling a remainder.
    if (dIn % 32 != 0)
        return "d_in = " + text(dIn) +
               " is not a multiple of 32 (AutoGPTQ sizes qweight as d_in / 32 * bits rows; vLLM's "
               "kernels read 32 inputs per step)";
    if (dOut % 32 != 0)
        return "d_out = " + text(dOut) +
               " is not a multiple of 32 (AutoGPTQ sizes qzeros as d_out / 32 * bits columns)";
    if (groupSize != -1 && dIn % groupSize != 0)
        return "d_in = " + text(dIn) + " is not a multiple of the group size " + text(groupSize);
    return std::nullopt;
}

std::string fusedGroup(const std::string& name) {
    static const std::regex attention(R"(^(.*\.self_attn)\.[qkv]_proj$)");
    static const std::regex mlp(R"(^(.*\.mlp)\.(gate|up)_proj$)");
    std::smatch m;
    if (std::regex_match(name, m, attention))
        return m[1].str() + ".qkv";
    if (std::regex_match(name, m, mlp))
        return m[1].str() + ".gate_up";
    return {};
}

std::optional<std::string> gptqIncompatibility(const QuantGrid& grid) {
    if (auto reason = gptqShapeIncompatibility(grid.bits, grid.codes.size(0), grid.codes.size(1),
                                               grid.groupSize))
        return reason;
    if (grid.zeros.min().item<int64_t>() < 1)
        return "a group has zero point 0, which GPTQ v1 (storing zero - 1) cannot hold";
    const at::Tensor half = grid.scales.to(at::kHalf).to(at::kFloat);
    if (!half.isfinite().all().item<bool>() || !(half > 0).all().item<bool>())
        return "a scale lies outside the float16 range";
    return std::nullopt;
}

GptqTensors toGptq(const QuantGrid& grid, const std::string& layerName) {
    if (const auto reason = gptqIncompatibility(grid))
        fail(layerName, "cannot be stored in GPTQ format: " + *reason);
    GptqTensors t;
    t.qweight = packBits(grid.codes.t(), grid.bits);
    t.qzeros = packBits(grid.zeros.to(at::kLong) - 1, grid.bits).t().contiguous();
    t.scales = grid.scales.t().to(at::kCPU, at::kHalf).contiguous();
    t.gIdx = grid.groupIndex.to(at::kCPU, at::kInt).contiguous();
    return t;
}

std::pair<int64_t, int64_t> checkGptqShapes(const GptqTensors& t, int bits,
                                            const std::string& layerName) {
    if (!packable(bits))
        fail(layerName, "GPTQ bits must be 2, 3, 4 or 8, got " + std::to_string(bits));
    if (t.qweight.dim() != 2 || t.scales.dim() != 2 || t.qzeros.dim() != 2 || t.gIdx.dim() != 1)
        fail(layerName, "GPTQ tensors have the wrong number of dimensions");
    const int64_t dOut = t.scales.size(1), groups = t.scales.size(0), dIn = t.gIdx.size(0);
    if (t.qweight.size(1) != dOut || dIn * bits % 32 != 0 || t.qweight.size(0) != dIn * bits / 32 ||
        dOut * bits % 32 != 0 || t.qzeros.size(0) != groups || t.qzeros.size(1) != dOut * bits / 32)
        fail(layerName, "GPTQ tensor shapes disagree: qweight " + formatShape(t.qweight.sizes()) +
                            ", qzeros " + formatShape(t.qzeros.sizes()) + ", scales " +
                            formatShape(t.scales.sizes()) + ", g_idx " +
                            formatShape(t.gIdx.sizes()));
    return {dOut, dIn};
}

at::Tensor dequantizeGptq(const GptqTensors& t, int bits, const std::string& layerName) {
    const auto [dOut, dIn] = checkGptqShapes(t, bits, layerName);
    const int64_t groups = t.scales.size(0);
    const at::Tensor index = t.gIdx.to(at::kLong);
    if (dIn > 0 && (index.min().item<int64_t>() < 0 || index.max().item<int64_t>() >= groups))
        fail(layerName, "g_idx names a group outside 0 .. " + text(groups - 1));
    const at::Tensor codes = unpackBits(t.qweight, bits, dIn).to(at::kFloat); // [d_in, d_out]
    const at::Tensor zeros =
        unpackBits(t.qzeros.t().contiguous(), bits, dOut).t() + 1; // [groups, d_out]
    const at::Tensor scales = t.scales.to(at::kFloat);
    const at::Tensor w =
        (codes - zeros.to(at::kFloat).index_select(0, index)) * scales.index_select(0, index);
    return w.t().contiguous();
}

} // namespace rs
