#include "compress/grid.h"

#include "util/error.h"

#include <ATen/ATen.h>

namespace rs::grid {

void checkBits(int bits) {
    if (bits < 1 || bits > 8)
        fail("quantization", "bits must be in 1..8, got " + std::to_string(bits));
}

Params fromRange(const at::Tensor& xmin, const at::Tensor& xmax, int bits, bool symmetric) {
    checkBits(bits);
    const double maxq = static_cast<double>((1 << bits) - 1);
    const at::Tensor lo = xmin.to(at::kDouble);
    const at::Tensor hi = xmax.to(at::kDouble);
    // The symmetric scale uses the reference GPTQ grid: 2^b levels spanning [-amax, amax], with
    // the zero point in the middle (2^(b-1)); +amax lands half a step outside and is clipped by
    // at most scale / 2, the same bound as plain rounding.
    const at::Tensor range = symmetric ? 2.0 * at::maximum(-lo, hi) : hi - lo;
    // A tensor divisor: some backends turn division by a scalar into a multiplication by its
    // reciprocal, which would move codes at rounding ties.
    at::Tensor scale = (range / at::full_like(range, maxq)).to(at::kFloat);
    scale = at::where(scale > 0, scale, at::ones_like(scale));
    at::Tensor zero;
    if (symmetric)
        zero = at::full_like(lo, static_cast<double>(1 << (bits - 1)));
    else
        zero = at::clamp(at::round(-lo / scale.to(at::kDouble)), 0.0, maxq);
    return {scale, zero};
}

Params fitRows(const at::Tensor& w, int bits, bool symmetric) {
    const at::Tensor wd = w.to(at::kDouble);
    return fromRange(wd.amin(1).clamp_max(0.0), wd.amax(1).clamp_min(0.0), bits, symmetric);
}

at::Tensor codes(const at::Tensor& w, const at::Tensor& scale, const at::Tensor& zero, int bits) {
    const double maxq = static_cast<double>((1 << bits) - 1);
    return at::clamp(at::round(w.to(at::kDouble) / scale.to(at::kDouble)) + zero, 0.0, maxq);
}

at::Tensor values(const at::Tensor& codes, const at::Tensor& scale, const at::Tensor& zero) {
    return (codes - zero).to(at::kFloat) * scale;
}

} // namespace rs::grid
