#pragma once

#include "compensate/symmetric.h"

#include <ATen/core/Tensor.h>
#include <memory>

// All eigenpairs of a dense symmetric float64 matrix through its tridiagonal form (internal; CPU
// with RANKSCOPE_HAVE_LAPACK, see available()).
namespace rs::compensate {

// LAPACK dsytrd reduces the matrix to tridiagonal form (Q^T A Q = T) in float64 when constructed;
// dstemr (MRRR, O(n^2) for all eigenvectors of T) then starts on its own thread, so the caller can
// run other work meanwhile. pairs() maps the eigenvectors back through the reflectors in blocks
// (BLAS3) in the requested type.
//
// The decomposition itself is float64: a float32 reduction would move the eigenvectors of close
// eigenvalues by eps_float32 ||A|| / gap, which for the SVD of a noise-like dW changes the
// C-weighted SVD error curve by a few 1e-6 of E(0). Applying the float64 reflectors to the float64
// eigenvectors of T in float32 only rounds each eigenvector (a perturbation of ~eps_float32 in a
// generic direction, not towards its neighbours), which moves quadratic forms u^T M u by
// ~eps_float32 ||M u|| / sqrt(n).
class TridiagonalEigensolver {
public:
    static bool available();

    // `symmetric`: contiguous float64 on the CPU, overwritten with the reflectors.
    explicit TridiagonalEigensolver(at::Tensor symmetric);
    ~TridiagonalEigensolver();
    TridiagonalEigensolver(const TridiagonalEigensolver&) = delete;
    TridiagonalEigensolver& operator=(const TridiagonalEigensolver&) = delete;

    // Eigenvalues descending (float64 [n]) and eigenvectors as columns ([n, n], `vectorType`);
    // empty tensors when MRRR failed (the caller then uses the dense solver).
    EigenPairs pairs(at::ScalarType vectorType);

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace rs::compensate
