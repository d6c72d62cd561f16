#pragma once

#include "calib/stats.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cstdint>

// Synthetic low-rank inputs shared by the low-rank benchmarks: a 3-bit RTN error and calibration
// statistics with an LLM-like or a well-conditioned spectrum.
namespace rs::bench {

// 3-bit asymmetric RTN per group of `group` input columns (the last group may be shorter).
inline at::Tensor rtnError(const at::Tensor& w, int64_t group) {
    at::Tensor wc = at::empty_like(w);
    for (int64_t c0 = 0; c0 < w.size(1); c0 += group) {
        const at::Tensor g = w.narrow(1, c0, std::min(group, w.size(1) - c0));
        const at::Tensor lo = g.amin(1, true).clamp_max(0.0), hi = g.amax(1, true).clamp_min(0.0);
        const at::Tensor scale = ((hi - lo) / 7.0).clamp_min(1e-12);
        const at::Tensor zero = at::round(-lo / scale);
        wc.narrow(1, c0, g.size(1))
            .copy_((at::clamp(at::round(g / scale) + zero, 0, 7) - zero) * scale);
    }
    return w - wc;
}

// Calibration statistics in float32 chunks summed in float64. Realistic: an LLM-like spectrum
// with log-normal channel scales, a few massive outlier channels and a shared low-rank component
// across tokens (dynamic range ~1e6, so the textbook formula's tolerance discards most modes of C).
// Well-conditioned: nearly isotropic channels with a gentle decay, so that the tolerance removes
// only the true null space and the reference computes the same optimum.
inline InputStats syntheticStats(int64_t dIn, int64_t tokens, bool realistic) {
    at::manual_seed(7);
    at::Tensor scale = realistic ? at::exp(at::randn({dIn}) * 0.8)
                                 : at::exp(at::randn({dIn}) * 0.1) * at::linspace(1.0, 0.7, dIn);
    if (realistic)
        scale.narrow(0, 0, 6).fill_(30.0);
    scale = scale.index_select(0, at::randperm(dIn));
    const at::Tensor mix =
        at::randn({32, dIn}) * at::pow(at::arange(1, 33, at::kFloat), -1.0).unsqueeze(1);
    const double shared = realistic ? 2.0 : 0.0;
    InputStats stats;
    stats.gram = at::zeros({dIn, dIn}, at::kDouble);
    stats.meanAbs = at::zeros({dIn}, at::kDouble);
    const int64_t chunk = 1024;
    for (int64_t t = 0; t < tokens; t += chunk) {
        const at::Tensor x =
            (at::randn({chunk, dIn}) + shared * at::mm(at::randn({chunk, 32}), mix)) * scale;
        stats.gram += at::mm(x.t(), x).to(at::kDouble);
        stats.meanAbs += x.abs().sum(0).to(at::kDouble);
    }
    stats.meanAbs /= static_cast<double>(tokens);
    stats.tokens = tokens;
    return stats;
}

} // namespace rs::bench
