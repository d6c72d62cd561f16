#pragma once

// Independent float64 reference implementations that tst_compress checks the compression
// methods against: the RTN grid one group at a time and plain column-by-column GPTQ.
#include "calib/stats.h"
#include "compress/gptq.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace rs::test {

// Independent float64 transcription of docs/design.md §2's grid, one group at a time, with the
// documented choices: the scale is stored as float32, codes round half to even.
struct ReferenceGrid {
    double scale = 1.0;
    double zero = 0.0;
};

inline ReferenceGrid referenceGrid(const std::vector<double>& group, int bits, bool symmetric) {
    const double maxq = std::pow(2.0, bits) - 1.0;
    double lo = 0.0, hi = 0.0;
    for (double v : group) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    ReferenceGrid g;
    const double range = symmetric ? 2.0 * std::max(-lo, hi) : hi - lo;
    g.scale = static_cast<float>(range / maxq);
    if (g.scale == 0.0)
        g.scale = 1.0;
    g.zero =
        symmetric ? std::pow(2.0, bits - 1) : std::clamp(std::nearbyint(-lo / g.scale), 0.0, maxq);
    return g;
}

inline double referenceCode(double w, const ReferenceGrid& g, int bits) {
    return std::clamp(std::nearbyint(w / g.scale) + g.zero, 0.0, std::pow(2.0, bits) - 1.0);
}

inline at::Tensor referenceRtnCodes(const at::Tensor& w, int bits, int64_t groupSize,
                                    bool symmetric) {
    const at::Tensor wd = w.to(at::kDouble).contiguous();
    const auto a = wd.accessor<double, 2>();
    const int64_t rows = wd.size(0), cols = wd.size(1);
    const int64_t width = groupSize == -1 ? cols : groupSize;
    at::Tensor codes = at::empty({rows, cols}, at::kDouble);
    auto c = codes.accessor<double, 2>();
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t begin = 0; begin < cols; begin += width) {
            const int64_t end = std::min(begin + width, cols);
            std::vector<double> group;
            for (int64_t j = begin; j < end; ++j)
                group.push_back(a[r][j]);
            const ReferenceGrid g = referenceGrid(group, bits, symmetric);
            for (int64_t j = begin; j < end; ++j)
                c[r][j] = referenceCode(a[r][j], g, bits);
        }
    return codes;
}

// The input order GPTQ processes: by descending H_ii with act-order (dead inputs last).
inline std::vector<int64_t> processingOrder(const at::Tensor& diag, bool actOrder) {
    std::vector<int64_t> order(diag.size(0));
    std::iota(order.begin(), order.end(), 0);
    const auto d = diag.accessor<double, 1>();
    if (actOrder)
        std::stable_sort(order.begin(), order.end(),
                         [&](int64_t a, int64_t b) { return d[a] > d[b]; });
    return order;
}

struct ReferenceGptq {
    at::Tensor weight; // float64 [d_out, d_in]
    at::Tensor codes;  // float64 [d_out, d_in]
};

// Plain GPTQ in float64: every column updates all later columns at once (no blocks, no lazy
// updates), with the explicit inverse of H and its Cholesky factor.
inline ReferenceGptq referenceGptq(const at::Tensor& w0, const rs::InputStats& stats,
                                   const rs::GptqOptions& o) {
    const int64_t rows = w0.size(0), cols = w0.size(1);
    at::Tensor w = w0.to(at::kDouble).clone();
    at::Tensor h = stats.gram.to(at::kDouble) * (2.0 / double(stats.tokens));
    const at::Tensor diag = h.diagonal().clone();
    double liveSum = 0.0;
    int64_t live = 0;
    for (int64_t j = 0; j < cols; ++j) {
        const double hjj = diag[j].item<double>();
        if (hjj == 0.0) {
            w.select(1, j).zero_();
            h[j][j] = 1.0;
        } else {
            liveSum += hjj;
            ++live;
        }
    }
    const double damp = o.damp * (live ? liveSum / double(live) : 1.0);
    for (int64_t j = 0; j < cols; ++j)
        h[j][j] += damp;
    const std::vector<int64_t> order = processingOrder(diag, o.actOrder);
    const at::Tensor perm = at::tensor(order, at::kLong);
    h = h.index_select(0, perm).index_select(1, perm);
    at::Tensor wp = w.index_select(1, perm);
    const at::Tensor u = at::linalg_cholesky(at::linalg_inv(h)).t().contiguous();
    const int64_t width = o.groupSize == -1 ? cols : o.groupSize;
    at::Tensor codes = at::empty({rows, cols}, at::kDouble);
    std::vector<ReferenceGrid> grids(rows);
    for (int64_t j = 0; j < cols; ++j) {
        if (j % width == 0) {
            const at::Tensor group = wp.narrow(1, j, std::min(width, cols - j)).contiguous();
            for (int64_t r = 0; r < rows; ++r) {
                const at::Tensor row = group[r];
                grids[r] = referenceGrid(std::vector<double>(row.data_ptr<double>(),
                                                             row.data_ptr<double>() + row.numel()),
                                         o.bits, o.symmetric);
            }
        }
        at::Tensor err = at::empty({rows}, at::kDouble);
        for (int64_t r = 0; r < rows; ++r) {
            const double value = wp[r][j].item<double>();
            const double q = referenceCode(value, grids[r], o.bits);
            const double deq = static_cast<float>(static_cast<float>(q - grids[r].zero) *
                                                  static_cast<float>(grids[r].scale));
            codes[r][order[j]] = q;
            err[r] = (value - deq) / u[j][j].item<double>();
        }
        wp.narrow(1, j, cols - j).sub_(at::outer(err, u[j].narrow(0, j, cols - j)));
    }
    // After its own update each column holds its dequantised value.
    return {wp.index_select(1, at::argsort(perm)), codes};
}

} // namespace rs::test
