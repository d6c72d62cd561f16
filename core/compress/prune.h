#pragma once

#include <ATen/core/Tensor.h>
#include <string>

namespace rs {

struct PruneOptions {
    double sparsity = 0.5; // unstructured: fraction removed per output row
    int64_t keepN = 0;     // N:M (both > 0): keep the N best of every M consecutive inputs
    int64_t groupM = 0;
};

// Inputs removed per row by unstructured pruning: floor(sparsity * d_in), with an allowance of
// 1e-9 so that decimal fractions such as 0.29 * 100 still give 29.
int64_t prunedPerRow(int64_t dIn, double sparsity);

// Wanda's importance |W_ij| * ||x_j||_2 = |W_ij| * sqrt(C_jj), float32 on the weight's device.
at::Tensor wandaScores(const at::Tensor& w, const at::Tensor& gram);

// The bool mask (true = kept) that removes the lowest scores of each row [d_out, d_in]: exactly
// prunedPerRow() per row, or with N:M exactly N kept in every M consecutive inputs. Ties break
// towards keeping the lower input index. N:M fails, naming the layer, unless M divides d_in.
at::Tensor pruneMask(const at::Tensor& scores, const PruneOptions& options,
                     const std::string& layerName);

} // namespace rs
