#include "compensate/band.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#ifdef RANKSCOPE_HAVE_LAPACK
extern "C" {
// Fortran LAPACK; the trailing size_t arguments are the hidden lengths of CHARACTER arguments.
void dsytrd_sy2sb_(const char* uplo, const int* n, const int* kd, double* a, const int* lda,
                   double* ab, const int* ldab, double* tau, double* work, const int* lwork,
                   int* info, size_t uploLength);
void ssytrd_sy2sb_(const char* uplo, const int* n, const int* kd, float* a, const int* lda,
                   float* ab, const int* ldab, float* tau, float* work, const int* lwork, int* info,
                   size_t uploLength);
void dsbev_(const char* jobz, const char* uplo, const int* n, const int* kd, double* ab,
            const int* ldab, double* w, double* z, const int* ldz, double* work, int* info,
            size_t jobzLength, size_t uploLength);
void dgbtrf_(const int* m, const int* n, const int* kl, const int* ku, double* ab, const int* ldab,
             int* ipiv, int* info);
void dgbtrs_(const char* trans, const int* n, const int* kl, const int* ku, const int* nrhs,
             const double* ab, const int* ldab, const int* ipiv, double* b, const int* ldb,
             int* info, size_t transLength);
}
#endif

namespace rs::compensate {

#ifdef RANKSCOPE_HAVE_LAPACK

bool bandKernelsAvailable() {
    return true;
}

namespace {

void sytrdSy2sb(const int* n, const int* kd, double* a, double* ab, const int* ldab, double* tau,
                double* work, const int* lwork, int* info) {
    dsytrd_sy2sb_("L", n, kd, a, n, ab, ldab, tau, work, lwork, info, 1);
}
void sytrdSy2sb(const int* n, const int* kd, float* a, float* ab, const int* ldab, float* tau,
                float* work, const int* lwork, int* info) {
    ssytrd_sy2sb_("L", n, kd, a, n, ab, ldab, tau, work, lwork, info, 1);
}

template <typename Scalar>
void reduceTyped(at::Tensor& a, int kd, at::Tensor& band, at::Tensor& tau) {
    const int n = static_cast<int>(a.size(0));
    const int ldab = kd + 1;
    band = at::zeros({n, ldab}, a.options());
    tau = at::zeros({n - kd}, a.options());
    int info = 0;
    int lwork = -1;
    Scalar query = 0;
    sytrdSy2sb(&n, &kd, a.data_ptr<Scalar>(), band.data_ptr<Scalar>(), &ldab,
               tau.data_ptr<Scalar>(), &query, &lwork, &info);
    lwork = std::max(1, static_cast<int>(query));
    std::vector<Scalar> scratch(static_cast<size_t>(lwork));
    sytrdSy2sb(&n, &kd, a.data_ptr<Scalar>(), band.data_ptr<Scalar>(), &ldab,
               tau.data_ptr<Scalar>(), scratch.data(), &lwork, &info);
    TORCH_CHECK(info == 0, "sytrd_sy2sb failed with info ", info);
}

} // namespace

void reduceToBand(at::Tensor& a, int kd, at::Tensor& band, at::Tensor& tau) {
    if (a.scalar_type() == at::kFloat)
        reduceTyped<float>(a, kd, band, tau);
    else
        reduceTyped<double>(a, kd, band, tau);
}

at::Tensor bandEigenvalues(const at::Tensor& band) {
    const int n = static_cast<int>(band.size(0));
    const int kd = static_cast<int>(band.size(1)) - 1;
    const int ldab = kd + 1;
    at::Tensor work = band.clone();
    at::Tensor values = at::empty({n}, band.options());
    std::vector<double> scratch(static_cast<size_t>(std::max(1, 3 * n - 2)));
    double unused = 0.0;
    const int one = 1;
    int info = 0;
    dsbev_("N", "L", &n, &kd, work.data_ptr<double>(), &ldab, values.data_ptr<double>(), &unused,
           &one, scratch.data(), &info, 1, 1);
    TORCH_CHECK(info == 0, "dsbev failed with info ", info);
    return values.flip(0);
}

at::Tensor bandInverseIteration(const at::Tensor& band, const at::Tensor& shifts, uint64_t seed) {
    const int n = static_cast<int>(band.size(0));
    const int kd = static_cast<int>(band.size(1)) - 1;
    const int count = static_cast<int>(shifts.size(0));
    // General band storage (column-major, kl = ku = kd, kd extra rows for the LU's fill-in):
    // A(i, j) at general[j * ldab + 2 kd + i - j].
    const int ldab = 3 * kd + 1;
    const int diagonal = 2 * kd;
    std::vector<double> general(static_cast<size_t>(n) * ldab, 0.0);
    const at::Tensor bandCpu = band.contiguous();
    const double* b = bandCpu.data_ptr<double>();
    double norm = 0.0;
    for (int j = 0; j < n; ++j) {
        for (int d = 0; d <= kd && j + d < n; ++d) {
            const double value = b[static_cast<size_t>(j) * (kd + 1) + d]; // B(j + d, j)
            general[static_cast<size_t>(j) * ldab + diagonal + d] = value;
            general[static_cast<size_t>(j + d) * ldab + diagonal - d] = value;
            norm = std::max(norm, std::abs(value));
        }
    }
    // A zero pivot (the shift is an eigenvalue to the last bit) is replaced by this, as LAPACK's
    // stein does: the solve then still amplifies the wanted direction.
    const double tiny =
        std::max(norm, std::numeric_limits<double>::min()) * std::numeric_limits<double>::epsilon();
    at::Generator generator = at::detail::createCPUGenerator(seed);
    at::Tensor out = at::randn({count, n}, generator, band.options()); // row k: vector k
    const at::Tensor shiftsCpu = shifts.to(at::kCPU, at::kDouble).contiguous();
    const double* shift = shiftsCpu.data_ptr<double>();
    double* vectors = out.data_ptr<double>();
    std::atomic<bool> ok = true;
    at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
        std::vector<double> lu(general.size());
        std::vector<int> pivots(static_cast<size_t>(n));
        for (int64_t k = begin; k < end; ++k) {
            std::copy(general.begin(), general.end(), lu.begin());
            for (int j = 0; j < n; ++j)
                lu[static_cast<size_t>(j) * ldab + diagonal] -= shift[k];
            int info = 0;
            dgbtrf_(&n, &n, &kd, &kd, lu.data(), &ldab, pivots.data(), &info);
            if (info < 0) {
                ok = false;
                return;
            }
            for (int j = 0; j < n; ++j) {
                double& pivot = lu[static_cast<size_t>(j) * ldab + diagonal];
                if (pivot == 0.0)
                    pivot = tiny;
            }
            double* x = vectors + k * n;
            const int one = 1;
            for (int solve = 0; solve < 2; ++solve) {
                dgbtrs_("N", &n, &kd, &kd, &one, lu.data(), &ldab, pivots.data(), x, &n, &info, 1);
                double largest = 0.0;
                for (int i = 0; i < n; ++i)
                    largest = std::max(largest, std::abs(x[i]));
                if (!(largest > 0.0) || !std::isfinite(largest)) {
                    ok = false;
                    return;
                }
                for (int i = 0; i < n; ++i)
                    x[i] /= largest;
            }
        }
    });
    if (!ok)
        return {};
    return out.t().contiguous();
}

#else

bool bandKernelsAvailable() {
    return false;
}
void reduceToBand(at::Tensor&, int, at::Tensor&, at::Tensor&) {
    TORCH_CHECK(false, "built without LAPACK");
}
at::Tensor bandEigenvalues(const at::Tensor&) {
    TORCH_CHECK(false, "built without LAPACK");
}
at::Tensor bandInverseIteration(const at::Tensor&, const at::Tensor&, uint64_t) {
    TORCH_CHECK(false, "built without LAPACK");
}

#endif

} // namespace rs::compensate
