#pragma once

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <memory>
#include <vector>

// Dense symmetric float64 kernels behind the low-rank module (internal; not part of the public
// API). Every function works on the tensors' own device.
namespace rs::compensate {

// Arithmetic of the cubic stages (congruence products, reduction to band form) of large matrices.
// Every later step (band eigenvalues, subspace iteration, back-transformation) is float64.
enum class Precision {
    // float64 throughout: reference-grade results.
    Float64,
    // float32 for the cubic stages of matrices with n >= 1024 (float64 below): 1.6x faster on
    // 4096x4096 layers; error curves within ~1e-7 of E(0), leading subspaces within ~1e-5.
    Mixed,
};

// Whether `precision` runs the cubic stages of a problem of size n in float32.
bool singleStages(Precision precision, int64_t n);

// left @ right^T for a product known to be symmetric (e.g. P K P^T): only the lower block
// triangle is multiplied, then mirrored, which saves about a third of the flops on large inputs.
at::Tensor symmetricProduct(const at::Tensor& left, const at::Tensor& right);

struct CongruenceRoute;

// P K P^T with K a symmetric matrix [n, n], a diagonal given as a vector [n], or undefined
// (the identity). Float32 when `precision` chose single stages for this size, else float64. A full
// K is factored (K = L L^T, P K P^T = (P L)(P L)^T, about half the flops) when that is cheaper and
// K is numerically positive definite, else multiplied directly; `route` says which and why.
at::Tensor congruence(const at::Tensor& p, const at::Tensor& k, Precision precision,
                      CongruenceRoute* route = nullptr);

// Eigenpairs, eigenvalues descending; vectors are columns.
struct EigenPairs {
    at::Tensor values;  // float64 [count]
    at::Tensor vectors; // float64 [n, count]
};

// The full eigendecomposition (LAPACK syevd through ATen).
EigenPairs allEigenpairs(const at::Tensor& symmetric);

// Eigenvalues and leading eigenvectors of one symmetric matrix, from one reduction.
//
// A full symmetric eigensolver spends most of its time in the memory-bound (BLAS2) reduction
// to tridiagonal form. On the CPU this class instead reduces the matrix once to a narrow band
// with blocked orthogonal transforms (BLAS3, LAPACK sytrd_sy2sb); all eigenvalues then come from
// the band matrix, and leading eigenvectors from subspace iteration with the band matrix (whose
// products are almost free) mapped back through the reflectors. On other devices, and for small
// matrices, it uses the dense solvers.
class SymmetricSpectrum {
public:
    // What the spectrum is asked for: eigenvalues only lets it drop the reduced matrix (one
    // n x n copy) as soon as the band exists.
    enum class Use { ValuesAndVectors, ValuesOnly };
    // `symmetric` may be float32 (from congruence with single stages) or float64; it is kept
    // (not copied) for the dense fallback of leading() unless `use` is ValuesOnly.
    SymmetricSpectrum(const at::Tensor& symmetric, Precision precision,
                      Use use = Use::ValuesAndVectors);
    ~SymmetricSpectrum();
    SymmetricSpectrum(const SymmetricSpectrum&) = delete;
    SymmetricSpectrum& operator=(const SymmetricSpectrum&) = delete;

    int64_t size() const;
    // All eigenvalues, descending, float64 [n].
    at::Tensor eigenvalues() const;
    // The `count` leading eigenpairs (count <= n); fails for a ValuesOnly spectrum.
    EigenPairs leading(int64_t count) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Number of eigenvalues of a symmetric matrix that are <= threshold, from the inertia of the
// LDL^T factorisation of (A - threshold I) (Sylvester's law): a factorisation, no eigensolver.
// An exactly symmetric contiguous float64 matrix on the CPU is factorised in place and restored
// bit for bit before returning (no copy of a matrix that may be 1.6 GB): it must not be read
// by another thread meanwhile.
int64_t countEigenvaluesAtMost(const at::Tensor& symmetric, double threshold);

// Tail sums of a descending non-negative sequence: out[r] = sum_{i >= r} v_i, r = 0 .. n.
// Summed from the small end, so small tails keep their relative accuracy.
std::vector<double> tailSums(const at::Tensor& values);

std::vector<double> toVector(const at::Tensor& values);

} // namespace rs::compensate
