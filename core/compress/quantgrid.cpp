#include "compress/quantgrid.h"

#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

int64_t groupCount(int64_t dIn, int64_t groupSize) {
    if (groupSize == -1 || dIn == 0)
        return 1;
    if (groupSize <= 0)
        fail("quantization", "group size must be -1 or positive, got " + std::to_string(groupSize));
    return (dIn + groupSize - 1) / groupSize;
}

at::Tensor dequantize(const QuantGrid& grid) {
    if (!grid.codes.defined() || grid.codes.dim() != 2)
        fail("quantization grid", "has no [d_out, d_in] codes");
    const at::Tensor index = grid.groupIndex.to(grid.codes.device(), at::kLong);
    const at::Tensor zeros = grid.zeros.to(at::kFloat).index_select(1, index);
    const at::Tensor scales = grid.scales.to(at::kFloat).index_select(1, index);
    // code - zero is a small integer, exact in float32, so the product is the one rounding step.
    return (grid.codes.to(at::kFloat) - zeros) * scales;
}

} // namespace rs
