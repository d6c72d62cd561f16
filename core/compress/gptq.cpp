#include "compress/gptq.h"

#include "calib/stats.h"
#include "compress/grid.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cstdio>

namespace rs {

namespace {

// Columns per inner block of the two-level lazy update.
constexpr int64_t kSubBlock = 16;

std::string dampText(double damp) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", damp);
    return text;
}

} // namespace

at::Tensor gptqInverseFactor(const at::Tensor& h, const std::string& layerName, double damp) {
    const at::Tensor reversed = h.flip({0, 1});
    const auto [lower, info] = at::linalg_cholesky_ex(reversed);
    const std::string advice =
        "GPTQ: the damped Hessian is not positive definite (Cholesky failed with damp = " +
        dampText(damp) + "); increase damp";
    if (info.item<int64_t>() != 0)
        fail(layerName, advice);
    const at::Tensor eye = at::eye(h.size(0), h.options());
    const at::Tensor inverse = at::linalg_solve_triangular(lower, eye, /*upper=*/false);
    const at::Tensor u = inverse.flip({0, 1});
    if (!at::isfinite(u).all().item<bool>())
        fail(layerName, advice);
    return u;
}

QuantGrid gptqQuantize(const at::Tensor& w, const InputStats& stats, const GptqOptions& options,
                       const std::string& layerName, const JobContext& job) {
    grid::checkBits(options.bits);
    if (w.dim() != 2 || !stats.gram.defined() || stats.dim() != w.size(1))
        fail(layerName, "GPTQ needs a [d_out, d_in] weight and [d_in, d_in] statistics");
    const int64_t rows = w.size(0), cols = w.size(1);
    const int64_t groups = groupCount(cols, options.groupSize);
    const int64_t width = options.groupSize == -1 ? cols : options.groupSize;
    const int64_t block = std::max<int64_t>(1, options.blockSize);
    if (stats.tokens <= 0)
        fail(layerName, "GPTQ: the calibration statistics hold no tokens");
    const at::Device device = w.device();

    at::Tensor h = stats.gram.to(device, at::kDouble) * (2.0 / static_cast<double>(stats.tokens));
    const at::Tensor diag = h.diagonal().clone();
    const at::Tensor dead = diag == 0;
    const at::Tensor live = diag.masked_select(dead.logical_not());
    // The mean over live inputs only: the placeholder 1 of a dead input says nothing about the
    // scale of H.
    const at::Tensor meanDiag = live.numel() > 0 ? live.mean() : at::ones({}, h.options());
    h.diagonal().masked_fill_(dead, 1.0);
    h.diagonal().add_(meanDiag * options.damp);

    // Dead inputs sort last (their true H_ii is 0); a stable sort keeps ties in input order.
    at::Tensor perm = at::arange(cols, w.options().dtype(at::kLong));
    if (options.actOrder)
        perm = std::get<1>(at::sort(diag, /*stable=*/true, /*dim=*/0, /*descending=*/true));
    const at::Tensor invPerm = at::argsort(perm);
    h = h.index_select(0, perm).index_select(1, perm);
    const at::Tensor u = gptqInverseFactor(h, layerName, options.damp).to(at::kFloat);
    h.reset(); // d_in^2 float64: large for wide layers
    const at::Tensor uDiag = u.diagonal();

    // Transposed layout [d_in, d_out]: a column of W is a contiguous row, and the rank-1 and
    // lazy block updates run on contiguous memory.
    at::Tensor wt = w.to(at::kFloat).masked_fill(dead.unsqueeze(0), 0.0).t().index_select(0, perm);
    wt = wt.contiguous();
    at::Tensor codes = at::empty({cols, rows}, w.options().dtype(at::kByte));
    at::Tensor scales = at::empty({groups, rows}, w.options().dtype(at::kFloat));
    at::Tensor zeros = at::empty({groups, rows}, w.options().dtype(at::kDouble));
    at::Tensor err = at::empty({block, rows}, w.options().dtype(at::kFloat));
    grid::Params params;

    int64_t i1 = 0; // start of the current block; err row k holds the error of column i1 + k
    // rows [to, until) -= U[from:to, to:until]^T err(from:to): the lazy update of later columns.
    const auto feedForward = [&](int64_t from, int64_t to, int64_t until) {
        if (to < until)
            wt.narrow(0, to, until - to)
                .addmm_(u.narrow(0, from, to - from).narrow(1, to, until - to).t(),
                        err.narrow(0, from - i1, to - from), 1.0, -1.0);
    };
    const auto nextGroupStart = [&](int64_t column) { return (column / width + 1) * width; };

    while (i1 < cols) {
        job.cancel.throwIfCancelled();
        int64_t i2 = std::min(i1 + block, cols);
        // A group that starts inside the block must end inside it, so that all of its weights
        // are up to date when its grid is fitted; otherwise the block stops at that group.
        const int64_t lastStart = (i2 - 1) / width * width;
        if (lastStart > i1 && std::min(lastStart + width, cols) > i2)
            i2 = lastStart;
        // Sub-blocks keep the per-column rank-1 updates small (cache-resident, one thread's
        // work); they too start at every group start.
        for (int64_t s1 = i1, s2 = 0; s1 < i2; s1 = s2) {
            s2 = std::min({s1 + kSubBlock, i2, nextGroupStart(s1)});
            for (int64_t column = s1; column < s2; ++column) {
                if (column % width == 0) {
                    const at::Tensor group = wt.narrow(0, column, std::min(width, cols - column));
                    params = grid::fitRows(group.t(), options.bits, options.symmetric);
                    scales[column / width].copy_(params.scale);
                    zeros[column / width].copy_(params.zero);
                }
                const at::Tensor col = wt[column];
                const at::Tensor q = grid::codes(col, params.scale, params.zero, options.bits);
                codes[column].copy_(q);
                const at::Tensor e =
                    (col - grid::values(q, params.scale, params.zero)) / uDiag[column];
                err[column - i1].copy_(e);
                // The column itself becomes its dequantised value; the rest of the sub-block
                // takes the error at once (a K = 1 matrix product: BLAS, like the lazy updates,
                // rather than a second thread pool).
                wt.narrow(0, column, s2 - column)
                    .addmm_(u[column].narrow(0, column, s2 - column).unsqueeze(1), e.unsqueeze(0),
                            1.0, -1.0);
            }
            feedForward(s1, s2, i2);
        }
        feedForward(i1, i2, cols);
        job.report("gptq", i2, cols, layerName);
        i1 = i2;
    }

    QuantGrid out;
    out.bits = options.bits;
    out.groupSize = options.groupSize;
    out.symmetric = options.symmetric;
    out.codes = codes.index_select(0, invPerm).t().contiguous();
    out.scales = scales.t().contiguous();
    out.zeros = zeros.t().to(at::kInt).contiguous();
    out.groupIndex = invPerm.div(width, "floor").to(at::kInt);
    return out;
}

} // namespace rs
