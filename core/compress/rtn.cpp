#include "compress/rtn.h"

#include "compress/grid.h"
#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

QuantGrid quantizeRtn(const at::Tensor& w, int bits, int64_t groupSize, bool symmetric) {
    grid::checkBits(bits);
    if (!w.defined() || w.dim() != 2 || !w.is_floating_point() || w.numel() == 0)
        fail("quantization", "RTN needs a non-empty 2-D floating-point matrix");
    const int64_t rows = w.size(0), cols = w.size(1);
    const int64_t groups = groupCount(cols, groupSize);
    const int64_t width = groupSize == -1 ? cols : groupSize;

    const at::Tensor wd = w.to(at::kDouble);
    // Zero padding of the last group does not change min(0, .) and max(0, .), so all groups,
    // the shorter last one included, reduce in one reshape.
    const at::Tensor padded =
        at::constant_pad_nd(wd, {0, groups * width - cols}, 0.0).view({rows, groups, width});
    const grid::Params params = grid::fromRange(padded.amin(2).clamp_max(0.0),
                                                padded.amax(2).clamp_min(0.0), bits, symmetric);

    const at::Tensor index = at::arange(cols, w.options().dtype(at::kLong)).div(width, "floor");
    const at::Tensor codes = grid::codes(wd, params.scale.index_select(1, index),
                                         params.zero.index_select(1, index), bits);
    QuantGrid out;
    out.bits = bits;
    out.groupSize = groupSize;
    out.symmetric = symmetric;
    out.codes = codes.to(at::kByte);
    out.scales = params.scale;
    out.zeros = params.zero.to(at::kInt);
    out.groupIndex = index.to(at::kInt);
    return out;
}

} // namespace rs
