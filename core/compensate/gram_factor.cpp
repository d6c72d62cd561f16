#include "compensate/gram_factor.h"

#include "compensate/symmetric.h"
#include "util/progress.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <algorithm>

#ifdef RANKSCOPE_HAVE_LAPACK
extern "C" {
// Fortran BLAS; the trailing size_t arguments are the hidden lengths of CHARACTER arguments.
void strmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const float* alpha, const float* a, const int* lda, float* b,
            const int* ldb, size_t, size_t, size_t, size_t);
void dtrmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m,
            const int* n, const double* alpha, const double* a, const int* lda, double* b,
            const int* ldb, size_t, size_t, size_t, size_t);
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* beta, float* c, const int* ldc, size_t,
            size_t);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* beta, double* c, const int* ldc, size_t,
            size_t);
}
#endif

namespace rs::compensate {

namespace {

// Columns of W per block of W^T W in congruenceTrace (a float32 block is 16 MB).
constexpr int64_t kTraceBlock = 2048;

// d_in / m beyond which the two general products are cheaper (see choleskyRouteWorthIt).
constexpr double kCholeskyMaxAspect = 1.5;

#ifdef RANKSCOPE_HAVE_LAPACK
void trmm(const int* n, const int* m, const float* l, float* y) {
    const float one = 1.0f;
    strmm_("L", "U", "N", "N", n, m, &one, l, n, y, n, 1, 1, 1, 1);
}
void trmm(const int* n, const int* m, const double* l, double* y) {
    const double one = 1.0;
    dtrmm_("L", "U", "N", "N", n, m, &one, l, n, y, n, 1, 1, 1, 1);
}
// The upper triangle of A^T A (trans "T", A [k, m] column-major) or A A^T (trans "N", A [m, k]),
// m x m, with leading dimension lda.
void syrk(const char* trans, const int* m, const int* k, const float* a, const int* lda,
          float* out) {
    const float one = 1.0f, zero = 0.0f;
    ssyrk_("U", trans, m, k, &one, a, lda, &zero, out, m, 1, 1);
}
void syrk(const char* trans, const int* m, const int* k, const double* a, const int* lda,
          double* out) {
    const double one = 1.0, zero = 0.0;
    dsyrk_("U", trans, m, k, &one, a, lda, &zero, out, m, 1, 1);
}

// Copies the lower triangle of a square row-major matrix onto the upper one, tile by tile.
template <typename Scalar> void mirrorLower(at::Tensor& a) {
    constexpr int64_t tile = 64;
    const int64_t n = a.size(0);
    Scalar* d = a.data_ptr<Scalar>();
    const int64_t tiles = (n + tile - 1) / tile;
    at::parallel_for(0, tiles, 1, [&](int64_t begin, int64_t end) {
        for (int64_t bi = begin; bi < end; ++bi)
            for (int64_t bj = 0; bj <= bi; ++bj)
                for (int64_t i = bi * tile; i < std::min(n, (bi + 1) * tile); ++i)
                    for (int64_t j = bj * tile; j < std::min(i, (bj + 1) * tile); ++j)
                        d[j * n + i] = d[i * n + j];
    });
}

// (P L)(P L)^T for row-major P [m, n] (overwritten) and L [n, n] (lower triangle read) of one
// dtype. Row-major L is the column-major upper factor L^T and row-major P is column-major P^T, so
// Y^T = L^T P^T is one trmm in place; syrk then writes the column-major upper triangle of
// Y Y^T, which is the row-major lower one.
template <typename Scalar> at::Tensor factoredProduct(at::Tensor& p, const at::Tensor& l) {
    const int m = static_cast<int>(p.size(0));
    const int n = static_cast<int>(p.size(1));
    trmm(&n, &m, l.data_ptr<Scalar>(), p.data_ptr<Scalar>());
    at::Tensor out = at::empty({m, m}, p.options());
    syrk("T", &m, &n, p.data_ptr<Scalar>(), &n, out.data_ptr<Scalar>());
    mirrorLower<Scalar>(out);
    return out;
}

// Row-major X [m, k] is the column-major k x m matrix X^T: X X^T is syrk "T" on it, X^T X is
// syrk "N"; the column-major upper triangle written is the row-major lower one.
template <typename Scalar> at::Tensor gramProduct(const at::Tensor& x, bool rows) {
    const at::Tensor a = x.contiguous();
    const int m = static_cast<int>(x.size(0));
    const int k = static_cast<int>(x.size(1));
    const int size = rows ? m : k;
    const int inner = rows ? k : m;
    at::Tensor out = at::empty({size, size}, x.options());
    syrk(rows ? "T" : "N", &size, &inner, a.data_ptr<Scalar>(), &k, out.data_ptr<Scalar>());
    mirrorLower<Scalar>(out);
    return out;
}
#endif

at::Tensor gram(const at::Tensor& x, bool rows) {
#ifdef RANKSCOPE_HAVE_LAPACK
    if (x.device().is_cpu() && x.size(0) > 0 && x.size(1) > 0) {
        if (x.scalar_type() == at::kFloat)
            return gramProduct<float>(x, rows);
        if (x.scalar_type() == at::kDouble)
            return gramProduct<double>(x, rows);
    }
#endif
    return rows ? symmetricProduct(x, x) : symmetricProduct(x.t(), x.t());
}

} // namespace

at::Tensor gramOfRows(const at::Tensor& x) {
    return gram(x, true);
}

at::Tensor gramOfColumns(const at::Tensor& x) {
    return gram(x, false);
}

double congruenceTrace(const at::Tensor& w, const at::Tensor& c) {
    const int64_t n = w.size(1);
    double total = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += kTraceBlock) {
        const int64_t ni = std::min(kTraceBlock, n - i0);
        const at::Tensor columns = w.narrow(1, i0, ni);
        for (int64_t j0 = 0; j0 <= i0; j0 += kTraceBlock) {
            cancellationPoint();
            const int64_t nj = std::min(kTraceBlock, n - j0);
            const at::Tensor block = at::mm(columns.t(), w.narrow(1, j0, nj));
            const at::Tensor weights = c.narrow(0, i0, ni).narrow(1, j0, nj).to(w.scalar_type());
            const double part = (block * weights).sum(at::kDouble).item<double>();
            // Block (j, i) is the transpose of block (i, j) in both factors.
            total += j0 == i0 ? part : 2.0 * part;
        }
    }
    return total;
}

bool choleskyRouteWorthIt(int64_t rows, int64_t inputs) {
#ifdef RANKSCOPE_HAVE_LAPACK
    return static_cast<double>(inputs) <= kCholeskyMaxAspect * static_cast<double>(rows);
#else
    (void)rows, (void)inputs;
    return false;
#endif
}

at::Tensor choleskyCongruence(const at::Tensor& p, const at::Tensor& c, bool single,
                              CongruenceRoute* route) {
    CongruenceRoute local;
    CongruenceRoute& out = route ? *route : local;
#ifdef RANKSCOPE_HAVE_LAPACK
    at::Tensor left = p;
    at::Tensor gram = c.to(at::kDouble);
    // A PSD matrix with C_jj = 0 has row and column j zero; the rows are checked all the same.
    at::Tensor live = gram.diagonal() != 0.0;
    const at::Tensor candidates = live.logical_not().nonzero().squeeze(1);
    if (candidates.numel() > 0)
        live.index_put_({candidates}, gram.index_select(0, candidates).abs().sum(1) > 0.0);
    const int64_t dead = gram.size(0) - live.sum().item<int64_t>();
    if (dead > 0) {
        const at::Tensor index = live.nonzero().squeeze(1);
        left = left.index_select(1, index);
        gram = gram.index_select(0, index).index_select(1, index);
        out.note =
            std::to_string(dead) + " dead input channel" + (dead > 1 ? "s" : "") + " dropped";
    }
    if (gram.size(0) == 0) {
        out.cholesky = true;
        return at::zeros({p.size(0), p.size(0)},
                         p.options().dtype(single ? at::kFloat : at::kDouble));
    }
    // Row-major C is its own column-major image; LAPACK's upper factor U (C = U^T U) is then the
    // row-major lower L (C = L L^T). The other triangle keeps C and is never read.
    at::Tensor l = gram.contiguous().clone();
    const int size = static_cast<int>(l.size(0));
    int failed = 0;
    dpotrf_("U", &size, l.data_ptr<double>(), &size, &failed, 1);
    if (failed != 0) {
        out.cholesky = false;
        out.note = "C is not numerically positive definite (Cholesky pivot " +
                   std::to_string(failed) + " of " + std::to_string(gram.size(0)) + ")";
        return {};
    }
    out.cholesky = true;
    const auto type = single ? at::kFloat : at::kDouble;
    at::Tensor y = left.to(type, /*non_blocking=*/false, /*copy=*/true).contiguous();
    if (single)
        return factoredProduct<float>(y, l.to(at::kFloat));
    return factoredProduct<double>(y, l);
#else
    (void)p, (void)c, (void)single;
    out.note = "built without LAPACK, direct products";
    return {};
#endif
}

} // namespace rs::compensate
