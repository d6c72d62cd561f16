#include "compress/ggml_quants.h"

#include "compress/validate.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>
#include <cmath>

namespace rs {

namespace {

// The float16 value ggml stores, read back as float32 (round to nearest even, as
// GGML_FP32_TO_FP16).
float viaHalf(float x) {
    return static_cast<float>(c10::Half(x));
}

struct BlockCodes {
    float scale; // float16-exact
    int zero;
};

// One Q8_0 block: codes q + 128.
BlockCodes quantizeQ8Block(const float* x, uint8_t* codes) {
    float amax = 0.0f;
    for (int64_t j = 0; j < kGgmlBlock; ++j)
        amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int64_t j = 0; j < kGgmlBlock; ++j)
        codes[j] = static_cast<uint8_t>(static_cast<int>(std::roundf(x[j] * id)) + 128);
    return {viaHalf(d), 128};
}

// One Q4_0 block: codes q in 0..15.
BlockCodes quantizeQ4Block(const float* x, uint8_t* codes) {
    float amax = 0.0f, max = 0.0f;
    for (int64_t j = 0; j < kGgmlBlock; ++j)
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int64_t j = 0; j < kGgmlBlock; ++j)
        codes[j] = static_cast<uint8_t>(std::min(15, static_cast<int>(x[j] * id + 8.5f)));
    return {viaHalf(d), 8};
}

} // namespace

const char* ggmlBlockTypeName(GgmlBlockType type) {
    return type == GgmlBlockType::Q8_0 ? "Q8_0" : "Q4_0";
}

bool ggmlBlocksFit(int64_t dIn) {
    return dIn > 0 && dIn % kGgmlBlock == 0;
}

QuantGrid quantizeGgml(const at::Tensor& weight, GgmlBlockType type, const std::string& layerName) {
    const at::Tensor w = checkedWeight(weight, layerName).to(at::kCPU).contiguous();
    const int64_t dOut = w.size(0), dIn = w.size(1);
    if (!ggmlBlocksFit(dIn))
        fail(layerName, std::string(ggmlBlockTypeName(type)) +
                            " blocks need d_in to be a "
                            "multiple of 32, got " +
                            std::to_string(dIn));
    const int64_t blocks = dIn / kGgmlBlock;
    at::Tensor codes = at::empty({dOut, dIn}, at::kByte);
    at::Tensor scales = at::empty({dOut, blocks}, at::kFloat);
    at::Tensor zeros = at::empty({dOut, blocks}, at::kInt);
    const float* in = w.data_ptr<float>();
    uint8_t* out = codes.data_ptr<uint8_t>();
    float* scale = scales.data_ptr<float>();
    int32_t* zero = zeros.data_ptr<int32_t>();
    const auto quantizeBlock = type == GgmlBlockType::Q8_0 ? quantizeQ8Block : quantizeQ4Block;
    at::parallel_for(0, dOut * blocks, 1024, [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; ++b) {
            const BlockCodes c = quantizeBlock(in + b * kGgmlBlock, out + b * kGgmlBlock);
            scale[b] = c.scale;
            zero[b] = c.zero;
        }
    });
    QuantGrid grid;
    grid.bits = type == GgmlBlockType::Q8_0 ? 8 : 4;
    grid.groupSize = kGgmlBlock;
    grid.symmetric = true;
    grid.codes = codes.to(weight.device());
    grid.scales = scales.to(weight.device());
    grid.zeros = zeros.to(weight.device());
    grid.groupIndex = at::arange(dIn, at::TensorOptions().dtype(at::kInt).device(weight.device()))
                          .div(kGgmlBlock, "floor");
    return grid;
}

} // namespace rs
