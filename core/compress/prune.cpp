#include "compress/prune.h"

#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>

namespace rs {

int64_t prunedPerRow(int64_t dIn, double sparsity) {
    const double exact = sparsity * static_cast<double>(dIn);
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor(exact + 1e-9)), 0, dIn);
}

at::Tensor wandaScores(const at::Tensor& w, const at::Tensor& gram) {
    const at::Tensor norms = gram.diagonal().clamp_min(0.0).sqrt().to(w.device(), at::kFloat);
    return w.to(at::kFloat).abs() * norms.unsqueeze(0);
}

at::Tensor pruneMask(const at::Tensor& scores, const PruneOptions& options,
                     const std::string& layerName) {
    const int64_t rows = scores.size(0), cols = scores.size(1);
    if (options.keepN > 0 || options.groupM > 0) {
        const int64_t n = options.keepN, m = options.groupM;
        const std::string pattern = std::to_string(n) + ":" + std::to_string(m);
        if (n <= 0 || m <= 0 || n > m)
            fail(layerName, "invalid N:M pattern " + pattern);
        if (cols % m != 0)
            fail(layerName, "N:M " + pattern + " needs d_in to be a multiple of " +
                                std::to_string(m) + ", but d_in is " + std::to_string(cols));
        // A stable descending sort keeps the lower index among equal scores.
        const at::Tensor order = std::get<1>(
            at::sort(scores.reshape({rows, cols / m, m}), /*stable=*/true, /*dim=*/2, true));
        at::Tensor mask = at::zeros({rows, cols / m, m}, scores.options().dtype(at::kBool));
        mask.scatter_(2, order.narrow(2, 0, n), true);
        return mask.view({rows, cols});
    }
    if (!(options.sparsity >= 0.0 && options.sparsity < 1.0))
        fail(layerName, "sparsity must be in [0, 1), got " + std::to_string(options.sparsity));
    const int64_t pruned = prunedPerRow(cols, options.sparsity);
    at::Tensor mask = at::ones({rows, cols}, scores.options().dtype(at::kBool));
    if (pruned == 0)
        return mask;
    // A stable ascending sort of the reversed rows: among equal scores the higher input index
    // is pruned first.
    const at::Tensor order =
        std::get<1>(at::sort(scores.flip({1}), /*stable=*/true, /*dim=*/1, false));
    const at::Tensor lowest = (cols - 1) - order.narrow(1, 0, pruned);
    mask.scatter_(1, lowest, false);
    return mask;
}

} // namespace rs
