#pragma once

#include <ATen/core/Tensor.h>
#include <cstdint>

namespace rs {

// What a quantized weight needs to be exported in a packed format (GPTQ): integer codes, and a
// scale and integer zero point per (output row, group). Dequantised: w = (code - zero) * scale.
struct QuantGrid {
    int bits = 0;
    int64_t groupSize = -1; // -1: one group per output row
    bool symmetric = false;
    at::Tensor codes;      // uint8 [d_out, d_in], in 0 .. 2^bits - 1
    at::Tensor scales;     // float32 [d_out, n_groups]
    at::Tensor zeros;      // int32 [d_out, n_groups]
    at::Tensor groupIndex; // int32 [d_in]: group of each input column (act-order permutes it)
};

// Groups of `groupSize` consecutive columns (-1: all of them); when dIn is not a multiple of the
// group size the last group is shorter: groupCount(172, 32) == 6, the last one of 12 columns.
int64_t groupCount(int64_t dIn, int64_t groupSize);

// The float32 [d_out, d_in] weight a grid represents: (codes - zeros[g]) * scales[g] with
// g = groupIndex[column], on the grid's device.
at::Tensor dequantize(const QuantGrid& grid);

} // namespace rs
