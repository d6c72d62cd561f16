// Eigenvalue counting by inertia: the LDL^T factorisation of (A - t I) has as many negative (and
// zero) eigenvalues in D as A has at or below t (Sylvester's law of inertia).
#include "compensate/symmetric.h"

#include <ATen/ATen.h>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef RANKSCOPE_HAVE_LAPACK
extern "C" {
void dsytrf_(const char* uplo, const int* n, double* a, const int* lda, int* ipiv, double* work,
             const int* lwork, int* info, size_t uploLength);
}
#endif

namespace rs::compensate {

namespace {

// Entries of the block diagonal D of a Bunch-Kaufman factorisation (lower storage).
struct BlockDiagonal {
    std::vector<double> diagonal;    // D(k, k)
    std::vector<double> subdiagonal; // D(k + 1, k), meaningful only inside 2 x 2 blocks
    std::vector<bool> twoByTwo;      // a 2 x 2 block starts at k
};

int64_t countNonPositive(const BlockDiagonal& d) {
    const size_t n = d.diagonal.size();
    int64_t count = 0;
    for (size_t k = 0; k < n;) {
        const double a = d.diagonal[k];
        if (!d.twoByTwo[k] || k + 1 == n) {
            count += a <= 0.0 ? 1 : 0;
            k += 1;
            continue;
        }
        const double b = d.subdiagonal[k];
        const double c = d.diagonal[k + 1];
        const double det = a * c - b * b;
        if (det < 0.0)
            count += 1;
        else if (det == 0.0)
            count += a + c <= 0.0 ? 2 : 1;
        else
            count += a + c < 0.0 ? 2 : 0;
        k += 2;
    }
    return count;
}

std::vector<double> toDoubles(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
    return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// Any device: ATen's factorisation, which needs the shifted copy and the factor side by side.
BlockDiagonal factorWithATen(const at::Tensor& symmetric, double threshold) {
    at::Tensor shifted = symmetric.clone();
    shifted.diagonal().sub_(threshold);
    auto [ld, pivots, info] = at::linalg_ldl_factor_ex(shifted, false, false);
    shifted.reset();
    BlockDiagonal d;
    d.diagonal = toDoubles(ld.diagonal());
    d.subdiagonal = toDoubles(ld.diagonal(-1));
    const at::Tensor p = pivots.to(at::kCPU, at::kLong).contiguous();
    for (int64_t k = 0; k < p.numel(); ++k)
        d.twoByTwo.push_back(p.data_ptr<int64_t>()[k] <= 0);
    return d;
}

#ifdef RANKSCOPE_HAVE_LAPACK
// Bunch-Kaufman factorisation of (A - threshold I) by LAPACK on n x n row-major float64 storage.
// With uplo 'L' LAPACK reads and overwrites the column-major lower triangle, the row-major upper
// one (diagonal included); the strictly lower row-major triangle is left as it was.
BlockDiagonal factorStorage(double* data, int n, double threshold) {
    for (int k = 0; k < n; ++k)
        data[static_cast<size_t>(k) * n + k] -= threshold;
    std::vector<int> pivots(static_cast<size_t>(n));
    int lwork = -1, info = 0;
    double query = 0.0;
    dsytrf_("L", &n, data, &n, pivots.data(), &query, &lwork, &info, 1);
    lwork = std::max(1, static_cast<int>(query));
    std::vector<double> work(static_cast<size_t>(lwork));
    dsytrf_("L", &n, data, &n, pivots.data(), work.data(), &lwork, &info, 1);
    if (info < 0)
        throw std::runtime_error("dsytrf rejected argument " + std::to_string(-info));
    BlockDiagonal d;
    d.diagonal.resize(n);
    d.subdiagonal.resize(n, 0.0);
    d.twoByTwo.resize(n);
    for (int k = 0; k < n; ++k) {
        d.diagonal[k] = data[static_cast<size_t>(k) * n + k];
        if (k + 1 < n)
            d.subdiagonal[k] = data[static_cast<size_t>(k) * n + k + 1];
        // In lower storage a 2 x 2 block at (k, k + 1) has ipiv(k) = ipiv(k + 1) < 0.
        d.twoByTwo[k] = pivots[k] < 0;
    }
    return d;
}

bool exactlySymmetric(const double* a, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < i; ++j)
            if (a[i * n + j] != a[j * n + i])
                return false;
    return true;
}

// A CPU float64 matrix that is exactly symmetric (as calibration leaves C) is factorised where it
// lies and rebuilt bit for bit from the triangle LAPACK leaves alone: down_proj's C of a
// Llama-3-8B is 1.6 GB, and a copy would set the job's memory peak.
BlockDiagonal factorRestoring(const at::Tensor& symmetric, double threshold) {
    const int64_t n = symmetric.size(0);
    double* a = symmetric.data_ptr<double>();
    std::vector<double> diagonal(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k)
        diagonal[k] = a[k * n + k];
    BlockDiagonal d = factorStorage(a, static_cast<int>(n), threshold);
    for (int64_t i = 0; i < n; ++i) {
        a[i * n + i] = diagonal[i];
        for (int64_t j = i + 1; j < n; ++j)
            a[i * n + j] = a[j * n + i];
    }
    return d;
}
#endif

} // namespace

int64_t countEigenvaluesAtMost(const at::Tensor& symmetric, double threshold) {
#ifdef RANKSCOPE_HAVE_LAPACK
    if (symmetric.device().is_cpu() && symmetric.size(0) > 0) {
        if (symmetric.scalar_type() == at::kDouble && symmetric.is_contiguous() &&
            exactlySymmetric(symmetric.data_ptr<double>(), symmetric.size(0)))
            return countNonPositive(factorRestoring(symmetric, threshold));
        // One float64 copy, factorised in place (the ATen path holds three at once).
        at::Tensor copy = symmetric.to(at::kDouble).contiguous().clone();
        return countNonPositive(
            factorStorage(copy.data_ptr<double>(), static_cast<int>(copy.size(0)), threshold));
    }
#endif
    return countNonPositive(factorWithATen(symmetric, threshold));
}

} // namespace rs::compensate
