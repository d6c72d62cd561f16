#include "calib/stats.h"

#include <ATen/ATen.h>

namespace rs {

void InputStats::accumulate(const at::Tensor& x) {
    // float64 accumulation: C sums up to millions of outer products whose small eigenvalues
    // decide the EoRA projection.
    const at::Tensor xd = x.detach().reshape({-1, x.size(-1)}).to(at::kDouble);
    if (!gram.defined()) {
        gram = at::zeros({xd.size(1), xd.size(1)}, xd.options());
        meanAbs = at::zeros({xd.size(1)}, xd.options());
    }
    const int64_t n = xd.size(0);
    if (n == 0)
        return;
    gram.addmm_(xd.t(), xd);
    // Running mean, so that the value is usable at any point of the stream.
    const double weight = static_cast<double>(n) / static_cast<double>(tokens + n);
    meanAbs.add_((xd.abs().mean(0) - meanAbs) * weight);
    tokens += n;
}

} // namespace rs
