#pragma once

#include <ATen/core/Tensor.h>
#include <cstdint>

// LAPACK kernels for symmetric band matrices behind SymmetricSpectrum (internal). CPU only; every
// function needs RANKSCOPE_HAVE_LAPACK (bandKernelsAvailable()).
namespace rs::compensate {

bool bandKernelsAvailable();

// Q^T A Q = band with Q = H(1) .. H(n - kd) (LAPACK sytrd_sy2sb, lower). `a` is a contiguous
// symmetric float32 or float64 matrix whose lower triangle (column-major, i.e. the upper triangle
// of the row-major buffer) is read; it is overwritten with the reflectors. band [n, kd + 1] holds
// band[j][d] = B(j + d, j); tau [n - kd].
void reduceToBand(at::Tensor& a, int kd, at::Tensor& band, at::Tensor& tau);

// All eigenvalues of the band matrix (float64, LAPACK dsbev), descending.
at::Tensor bandEigenvalues(const at::Tensor& band);

// Approximate eigenvectors [n, count] of the float64 band matrix for the given eigenvalues, by
// inverse iteration with a banded LU of (B - shift I) per eigenvalue (LAPACK dgbtrf/dgbtrs), two
// solves from a seeded random start. Exact eigenvalues make one solve amplify the wanted
// direction by gap / (n eps) over its neighbours, so isolated eigenvectors come out to working
// precision; eigenvalues closer than that give nearly parallel columns, which the caller's
// Rayleigh-Ritz and residual test must catch.
at::Tensor bandInverseIteration(const at::Tensor& band, const at::Tensor& shifts, uint64_t seed);

} // namespace rs::compensate
