#include "compensate/tridiagonal.h"

#include "util/interruptible.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <future>
#include <vector>

#ifdef RANKSCOPE_HAVE_LAPACK
extern "C" {
// Fortran LAPACK; the trailing size_t arguments are the hidden lengths of CHARACTER arguments.
void dsytrd_(const char* uplo, const int* n, double* a, const int* lda, double* d, double* e,
             double* tau, double* work, const int* lwork, int* info, size_t uploLength);
void dstemr_(const char* jobz, const char* range, const int* n, double* d, double* e,
             const double* vl, const double* vu, const int* il, const int* iu, int* m, double* w,
             double* z, const int* ldz, const int* nzc, int* isuppz, int* tryrac, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info, size_t jobzLength,
             size_t rangeLength);
}
#endif

namespace rs::compensate {

namespace {

// Reflectors per block of the back-transformation. LAPACK's ormtr applies 32 at a time; wider
// blocks make the two products per block larger and faster (4096 x 4096 in float32 on the loaded
// 2-core machine: 1.5 s, against 4.1 s for sormtr; 256 is no faster).
constexpr int64_t kBackTransformBlock = 128;

// Eigenvalues of T ascending, eigenvector k in row k.
struct TridiagonalPairs {
    at::Tensor values;
    at::Tensor rows;
};

#ifdef RANKSCOPE_HAVE_LAPACK
TridiagonalPairs mrrr(std::vector<double> d, std::vector<double> e) {
    const int n = static_cast<int>(d.size());
    e.resize(d.size(), 0.0); // E(n) is workspace
    TridiagonalPairs out;
    out.values = at::empty({n}, at::kDouble);
    out.rows = at::empty({n, n}, at::kDouble); // column-major Z: column k is row k here
    std::vector<int> support(2 * d.size());
    const double unusedBound = 0.0;
    const int unusedIndex = 0;
    int found = 0;
    int info = 0;
    int tryrac = 1;
    int lwork = -1;
    int liwork = -1;
    double workSize = 0.0;
    int iworkSize = 0;
    dstemr_("V", "A", &n, d.data(), e.data(), &unusedBound, &unusedBound, &unusedIndex,
            &unusedIndex, &found, out.values.data_ptr<double>(), out.rows.data_ptr<double>(), &n,
            &n, support.data(), &tryrac, &workSize, &lwork, &iworkSize, &liwork, &info, 1, 1);
    if (info != 0)
        return {};
    lwork = std::max(1, static_cast<int>(workSize));
    liwork = std::max(1, iworkSize);
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    tryrac = 1;
    dstemr_("V", "A", &n, d.data(), e.data(), &unusedBound, &unusedBound, &unusedIndex,
            &unusedIndex, &found, out.values.data_ptr<double>(), out.rows.data_ptr<double>(), &n,
            &n, support.data(), &tryrac, work.data(), &lwork, iwork.data(), &liwork, &info, 1, 1);
    if (info != 0 || found != n)
        return {};
    return out;
}
#endif

// x [k, n] holds eigenvectors of T as rows; returns those of A = Q T Q^T (rows of x Q^T).
// Q = H(0) .. H(n - 2) from dsytrd (lower): reflector i is 1 at i + 1, row i of the row-major
// `reduced` buffer from column i + 2 on, zero before. Blocks of reflectors are applied last
// first, each as Q_b = I - V^T T V with V [b, n] the reflectors as rows and
// T^-1 = diag(1 / tau) + strictly_upper(V V^T) (the compact WY form written as a triangular
// solve), T in float64 and the two products in x's type.
void backTransform(const at::Tensor& reduced, const at::Tensor& tau, at::Tensor& x) {
    const int64_t n = reduced.size(0);
    if (n < 2)
        return;
    const auto type = x.scalar_type();
    const auto wide = reduced.options();
    const at::Tensor t = tau.narrow(0, 0, n - 1);
    const at::Tensor live = t != 0.0; // tau = 0 stands for H = I
    at::Tensor v = reduced.narrow(0, 0, n - 1).triu(2);
    v.diagonal(1).fill_(1.0);
    v.mul_(live.unsqueeze(1).to(at::kDouble));
    const at::Tensor vx = v.to(type);
    const at::Tensor inverseTau = at::where(live, t.reciprocal(), at::ones_like(t));
    for (int64_t end = n - 1; end > 0; end -= kBackTransformBlock) {
        cancellationPoint();
        const int64_t begin = std::max<int64_t>(0, end - kBackTransformBlock);
        const int64_t b = end - begin;
        const int64_t first = begin + 1; // the block's reflectors are zero before this column
        const int64_t width = n - first;
        const at::Tensor block = v.narrow(0, begin, b).narrow(1, first, width);
        const at::Tensor inverse =
            at::mm(block, block.t()).triu(1) + at::diag(inverseTau.narrow(0, begin, b));
        const at::Tensor factor =
            at::linalg_solve_triangular(inverse, at::eye(b, wide), /*upper=*/true);
        const at::Tensor vb = vx.narrow(0, begin, b).narrow(1, first, width);
        at::Tensor part = x.narrow(1, first, width);
        const at::Tensor y = at::mm(at::mm(part, vb.t()), factor.t().to(type));
        part.addmm_(y, vb, /*beta=*/1, /*alpha=*/-1); // in place: no temporary of x's size
    }
}

} // namespace

struct TridiagonalEigensolver::Impl {
    at::Tensor reduced; // dsytrd's output (row-major view of the column-major array)
    at::Tensor tau;     // float64 [n - 1]
    std::shared_future<TridiagonalPairs> tridiagonal;
};

bool TridiagonalEigensolver::available() {
#ifdef RANKSCOPE_HAVE_LAPACK
    return true;
#else
    return false;
#endif
}

TridiagonalEigensolver::TridiagonalEigensolver(at::Tensor symmetric)
    : m_impl(std::make_unique<Impl>()) {
    cancellationPoint();
#ifdef RANKSCOPE_HAVE_LAPACK
    Impl& impl = *m_impl;
    const int n = static_cast<int>(symmetric.size(0));
    TORCH_CHECK(symmetric.device().is_cpu() && symmetric.scalar_type() == at::kDouble &&
                    symmetric.is_contiguous(),
                "TridiagonalEigensolver needs a contiguous float64 CPU matrix");
    // A symmetric row-major matrix is its own column-major image.
    impl.reduced = std::move(symmetric);
    impl.tau = at::zeros({std::max(n - 1, 1)}, at::kDouble);
    // One BLAS2-bound call of seconds on a large matrix: interruptible, so it owns its buffers.
    auto [d, e] = runInterruptible([reduced = impl.reduced, tau = impl.tau, n] {
        std::vector<double> diagonal(static_cast<size_t>(n));
        std::vector<double> off(static_cast<size_t>(std::max(n - 1, 1)));
        int info = 0;
        int lwork = -1;
        double workSize = 0.0;
        double* a = reduced.data_ptr<double>();
        double* t = tau.data_ptr<double>();
        dsytrd_("L", &n, a, &n, diagonal.data(), off.data(), t, &workSize, &lwork, &info, 1);
        lwork = std::max(1, static_cast<int>(workSize));
        std::vector<double> work(static_cast<size_t>(lwork));
        dsytrd_("L", &n, a, &n, diagonal.data(), off.data(), t, work.data(), &lwork, &info, 1);
        TORCH_CHECK(info == 0, "dsytrd failed with info ", info);
        off.resize(static_cast<size_t>(std::max(n - 1, 0)));
        return std::pair{std::move(diagonal), std::move(off)};
    });
    // MRRR is sequential: it runs beside whatever the caller does next.
    impl.tridiagonal = std::async(std::launch::async, [d = std::move(d), e = std::move(e)] {
                           return mrrr(d, e);
                       }).share();
#else
    (void)symmetric;
    TORCH_CHECK(false, "built without LAPACK");
#endif
}

TridiagonalEigensolver::~TridiagonalEigensolver() = default;

EigenPairs TridiagonalEigensolver::pairs(at::ScalarType vectorType) {
    const TridiagonalPairs& t = m_impl->tridiagonal.get();
    if (!t.values.defined())
        return {};
    at::Tensor rows = t.rows.flip(0).to(vectorType).contiguous(); // descending
    backTransform(m_impl->reduced, m_impl->tau, rows);
    return {t.values.flip(0), rows.t()};
}

} // namespace rs::compensate
