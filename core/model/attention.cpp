#include "model/attention.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>

namespace rs {

namespace {

// Score matrices of one attention chunk stay below this (glibc serves smaller blocks from its
// heap; larger ones are mapped and faulted in afresh on every allocation).
constexpr int64_t kAttentionChunkBytes = 16LL << 20;
// Queries per causal block: small enough to skip most masked scores, large enough for BLAS.
constexpr int64_t kQueryBlock = 128;

} // namespace

at::Tensor groupedCausalAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const at::Tensor& maskBias, int64_t start) {
    // Grouped-query attention without materialising repeated keys: the `group` query heads that
    // share one key/value head are stacked into one batched matmul. Queries go in blocks that see
    // only the keys up to their last position (causality skips the rest, about half of the
    // scores), and the (batch x kv-head) rows in chunks whose score matrices stay small enough to
    // be reused by the allocator rather than page-faulted in afresh every layer.
    const int64_t batch = q.size(0), heads = q.size(1), time = q.size(2), dim = q.size(3);
    const int64_t kvHeads = k.size(1), span = k.size(2), group = heads / kvHeads;
    const int64_t rows = batch * kvHeads;
    const at::Tensor q4 = q.reshape({rows, group, time, dim});
    const at::Tensor kr = k.reshape({rows, span, dim});
    const at::Tensor vr = v.reshape({rows, span, dim});
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    at::Tensor out = at::empty({rows, group, time, dim}, q4.options());
    const int64_t block = std::min(time, kQueryBlock);
    for (int64_t t0 = 0; t0 < time; t0 += block) {
        const int64_t tb = std::min(block, time - t0);
        const int64_t visible = maskBias.defined() ? start + t0 + tb : span;
        const int64_t queries = group * tb;
        const at::Tensor qb = q4.narrow(2, t0, tb).reshape({rows, queries, dim});
        const at::Tensor kt = kr.narrow(1, 0, visible).transpose(1, 2);
        const at::Tensor vb = vr.narrow(1, 0, visible);
        at::Tensor bias;
        if (maskBias.defined())
            bias = maskBias.narrow(0, t0, tb).narrow(1, 0, visible).repeat({group, 1});
        const int64_t chunk = std::max<int64_t>(1, kAttentionChunkBytes / (queries * visible * 4));
        at::Tensor outBlock = at::empty({rows, queries, dim}, q4.options());
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
            const int64_t n = std::min(chunk, rows - r0);
            const at::Tensor scores =
                bias.defined() ? at::baddbmm(bias.expand({n, queries, visible}),
                                             qb.narrow(0, r0, n), kt.narrow(0, r0, n), 1.0, scale)
                               : at::bmm(qb.narrow(0, r0, n), kt.narrow(0, r0, n)).mul_(scale);
            const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
            at::Tensor target = outBlock.narrow(0, r0, n);
            if (probs.requires_grad() || vb.requires_grad()) // autograd skips out= kernels
                target.copy_(at::bmm(probs, vb.narrow(0, r0, n)));
            else
                at::bmm_out(target, probs, vb.narrow(0, r0, n));
        }
        out.narrow(2, t0, tb).copy_(outBlock.view({rows, group, tb, dim}));
    }
    return out.view({batch, heads, time, dim});
}

} // namespace rs
