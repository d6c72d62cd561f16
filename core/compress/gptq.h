#pragma once

#include "compress/quantgrid.h"
#include "util/progress.h"

#include <string>

namespace rs {

struct InputStats;

struct GptqOptions {
    int bits = 4;
    int64_t groupSize = 128; // -1: one group per output row
    bool symmetric = false;
    double damp = 0.01;      // added to diag(H), times its mean over the live inputs
    bool actOrder = false;   // process inputs by descending H_ii
    int64_t blockSize = 128; // columns per lazy-update block
};

// GPTQ (Frantar et al. 2022) of w [d_out, d_in] with the layer input's statistics:
// H = 2 C / n; inputs with H_ii = 0 never fire, so their weights become 0 and H_ii = 1; then
// H_ii += damp * mean(live H_ii); U = upper Cholesky factor of H^-1; columns are quantized in
// order (by descending H_ii with act-order, dead inputs last) with the error fed forward through
// U, in blocks with lazy updates. A group's scale and zero are fitted when its first column comes
// up, to the group's weights as already updated by the earlier columns. With act-order the groups
// are consecutive in the processing order and groupIndex maps each input to its group (GPTQ's
// g_idx, "static_groups=false"). Runs in float32 on w's device; H is factored in float64.
// Fails, naming the layer, when the damped H is not positive definite. Honours cancellation and
// reports progress (stage "gptq", detail = layerName) once per block.
QuantGrid gptqQuantize(const at::Tensor& w, const InputStats& stats, const GptqOptions& options,
                       const std::string& layerName, const JobContext& job = {});

// The upper triangular U with U^T U = H^-1 for a symmetric positive definite float64 H, from one
// Cholesky factorisation of the reversed matrix: J H J = L L^T gives U = J L^-1 J (J reverses
// the order). Unlike inverting H and factoring the inverse, no second factorisation can fail on
// round-off. Fails with a message naming the layer and suggesting more damping when H is not
// positive definite.
at::Tensor gptqInverseFactor(const at::Tensor& h, const std::string& layerName, double damp);

} // namespace rs
