#include "compress/rtn.h"

#include "compress/grid.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>

namespace rs {

namespace {
constexpr int64_t kSliceElements = int64_t{1} << 22; // 32 MB of float64 per temporary
}

QuantGrid quantizeRtn(const at::Tensor& w, int bits, int64_t groupSize, bool symmetric) {
    grid::checkBits(bits);
    if (!w.defined() || w.dim() != 2 || !w.is_floating_point() || w.numel() == 0)
        fail("quantization", "RTN needs a non-empty 2-D floating-point matrix");
    const int64_t rows = w.size(0), cols = w.size(1);
    const int64_t groups = groupCount(cols, groupSize);
    const int64_t width = groupSize == -1 ? cols : groupSize;

    const at::Tensor index = at::arange(cols, w.options().dtype(at::kLong)).div(width, "floor");
    at::Tensor codes = at::empty({rows, cols}, w.options().dtype(at::kByte));
    at::Tensor scales = at::empty({rows, groups}, w.options().dtype(at::kFloat));
    at::Tensor zeros = at::empty({rows, groups}, w.options().dtype(at::kInt));
    // Rows are independent; a slice at a time bounds the float64 temporaries (a 5632 x 2048
    // layer whole would hold about 750 MB of them).
    const int64_t sliceRows = std::max<int64_t>(1, kSliceElements / cols);
    for (int64_t r0 = 0; r0 < rows; r0 += sliceRows) {
        const int64_t n = std::min(sliceRows, rows - r0);
        const at::Tensor wd = w.narrow(0, r0, n).to(at::kDouble);
        // Zero padding of the last group does not change min(0, .) and max(0, .), so all
        // groups, the shorter last one included, reduce in one reshape.
        const at::Tensor padded =
            at::constant_pad_nd(wd, {0, groups * width - cols}, 0.0).view({n, groups, width});
        const grid::Params params = grid::fromRange(padded.amin(2).clamp_max(0.0),
                                                    padded.amax(2).clamp_min(0.0), bits, symmetric);
        codes.narrow(0, r0, n).copy_(grid::codes(wd, params.scale.index_select(1, index),
                                                 params.zero.index_select(1, index), bits));
        scales.narrow(0, r0, n).copy_(params.scale);
        zeros.narrow(0, r0, n).copy_(params.zero);
    }
    QuantGrid out;
    out.bits = bits;
    out.groupSize = groupSize;
    out.symmetric = symmetric;
    out.codes = codes;
    out.scales = scales;
    out.zeros = zeros;
    out.groupIndex = index.to(at::kInt);
    return out;
}

} // namespace rs
