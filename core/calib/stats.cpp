#include "calib/stats.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>

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

bool allFinite(const at::Tensor& t) {
    if (!t.defined() || std::isfinite(t.sum(at::kDouble).item<double>()))
        return true;
    const at::Tensor rows2d = t.reshape({t.size(0), -1});
    const int64_t rows =
        std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(rows2d.size(1), 1));
    for (int64_t r0 = 0; r0 < rows2d.size(0); r0 += rows)
        if (!at::isfinite(rows2d.narrow(0, r0, std::min(rows, rows2d.size(0) - r0)))
                 .all()
                 .item<bool>())
            return false;
    return true;
}

bool InputStats::finite() const {
    return allFinite(gram);
}

void InputStats::symmetrize() {
    if (!gram.defined())
        return;
    if (!gram.device().is_cpu() || gram.scalar_type() != at::kDouble || !gram.is_contiguous()) {
        gram = (gram + gram.t()).mul_(0.5);
        return;
    }
    // In place: C may be d_ff^2 float64 (1.6 GB for Llama-3-8B's down_proj).
    const int64_t n = gram.size(0);
    double* a = gram.data_ptr<double>();
    constexpr int64_t tile = 64; // square tiles keep the transposed reads in cache
    for (int64_t i0 = 0; i0 < n; i0 += tile)
        for (int64_t j0 = i0; j0 < n; j0 += tile)
            for (int64_t i = i0; i < std::min(i0 + tile, n); ++i)
                for (int64_t j = std::max(j0, i + 1); j < std::min(j0 + tile, n); ++j) {
                    const double mean = 0.5 * (a[i * n + j] + a[j * n + i]);
                    a[i * n + j] = mean;
                    a[j * n + i] = mean;
                }
}

} // namespace rs
