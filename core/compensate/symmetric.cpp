#include "compensate/symmetric.h"

#include "compensate/band.h"
#include "compensate/gram_factor.h"
#include "util/error.h"
#include "util/interruptible.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <future>
#include <mutex>

namespace rs::compensate {

namespace {

// Below this size the dense solvers take well under a second and the banded route gains nothing.
constexpr int64_t kBandedMinSize = 768;
// Band width of the first reduction stage: wide enough for BLAS3 panels, narrow enough that the
// band matrix is cheap to apply.
constexpr int kBandWidth = 32;
// Subspace iteration on the band matrix: stop when every wanted Ritz pair has a residual below
// this fraction of its eigenvalue (plus a floor relative to the largest, for null directions).
constexpr double kResidualTolerance = 1e-11;
constexpr double kResidualFloor = 1e-14;
constexpr int kMaxIterations = 400;
constexpr double kFilterRange = 1e4;
constexpr double kMaxDegree = 40.0;
constexpr uint64_t kSubspaceSeed = 0x5eed5eedULL;
constexpr int64_t kSeedGuard = 8;
// Products at least this large are split into blocks so that only the lower triangle is formed.
constexpr int64_t kBlockedProductMinRows = 1024;
constexpr int64_t kProductBlocks = 4;
// Rows of K converted to the stage dtype at a time in P K: a float32 copy of a 14336-wide C
// (down_proj of an 8B model) would be 822 MB.
constexpr int64_t kConversionSliceRows = 2048;
// Precision::Mixed uses float32 from this size on. Measured on 4096x4096 (bench_compensate): the
// float32 products are 2.4x faster than float64 and move the curves by 4e-9 of E(0); the float32
// band reduction is 1.7x faster and moves them by ~1e-7 (tested in tst_compensate).
constexpr int64_t kMixedPrecisionMinSize = 1024;
constexpr double kSecondPassDeviation = 1e-3;
constexpr double kGramConditionLimit = 1e-13;

at::Tensor symmetrized(const at::Tensor& a) {
    return (a + a.t()) * 0.5;
}

// Orthonormal basis of the span of the columns of y: twice Q = Y V L^(-1/2) from the small Gram
// matrix Y^T Y = V L V^T (a few BLAS3 products, several times cheaper than Householder QR for
// tall blocks); Householder QR when y is too ill-conditioned for that.
at::Tensor orthonormalized(const at::Tensor& y) {
    at::Tensor q = y;
    for (int pass = 0; pass < 2; ++pass) {
        auto [values, vectors] = at::linalg_eigh(at::mm(q.t(), q));
        if (values.min().item<double>() <= kGramConditionLimit * values.max().item<double>())
            return std::get<0>(at::linalg_qr(y));
        // The second pass starts from nearly orthonormal columns (Gram eigenvalues near 1), so
        // its result is orthonormal to float64 round-off; otherwise the first pass lost too much.
        if (pass == 1 && (values - 1.0).abs().max().item<double>() > kSecondPassDeviation)
            return std::get<0>(at::linalg_qr(y));
        q = at::mm(q, vectors * values.rsqrt().unsqueeze(0));
    }
    return q;
}

} // namespace

at::Tensor symmetricProduct(const at::Tensor& left, const at::Tensor& right) {
    const int64_t m = left.size(0);
    if (m < kBlockedProductMinRows)
        return symmetrized(at::mm(left, right.t()));
    at::Tensor out = at::empty({m, m}, left.options());
    const int64_t block = (m + kProductBlocks - 1) / kProductBlocks;
    for (int64_t i0 = 0; i0 < m; i0 += block) {
        const int64_t ni = std::min(block, m - i0);
        const at::Tensor rows = left.narrow(0, i0, ni);
        for (int64_t j0 = 0; j0 <= i0; j0 += block) {
            cancellationPoint();
            const int64_t nj = std::min(block, m - j0);
            at::Tensor part = at::mm(rows, right.narrow(0, j0, nj).t());
            if (j0 == i0)
                part = symmetrized(part);
            out.narrow(0, i0, ni).narrow(1, j0, nj).copy_(part);
            if (j0 != i0)
                out.narrow(0, j0, nj).narrow(1, i0, ni).copy_(part.t());
        }
    }
    return out;
}

// P K for a symmetric K of another dtype than P, converting one slice of K at a time: the
// columns j of K are its rows j, transposed.
at::Tensor productWithConverted(const at::Tensor& left, const at::Tensor& k) {
    const int64_t n = k.size(0);
    if (k.scalar_type() == left.scalar_type() || n <= kConversionSliceRows)
        return at::mm(left, k.to(left.scalar_type()));
    at::Tensor out = at::empty({left.size(0), n}, left.options());
    for (int64_t j0 = 0; j0 < n; j0 += kConversionSliceRows) {
        cancellationPoint();
        const int64_t nj = std::min(kConversionSliceRows, n - j0);
        const at::Tensor columns = k.narrow(0, j0, nj).to(left.scalar_type()).t();
        at::Tensor slice = out.narrow(1, j0, nj);
        at::mm_out(slice, left, columns);
    }
    return out;
}

bool singleStages(Precision precision, int64_t n) {
    return precision == Precision::Mixed && n >= kMixedPrecisionMinSize;
}

at::Tensor congruence(const at::Tensor& p, const at::Tensor& k, Precision precision,
                      CongruenceRoute* route) {
    const bool single = singleStages(precision, p.size(0));
    if (k.defined() && k.dim() == 2 && p.device().is_cpu() &&
        choleskyRouteWorthIt(p.size(0), p.size(1))) {
        at::Tensor out = choleskyCongruence(p, k, single, route);
        if (out.defined())
            return out;
    } else if (route) {
        route->cholesky = false;
        route->note = k.defined() && k.dim() == 2
                          ? "d_in > 1.5 d_out, factoring C would cost more than it saves"
                          : "";
    }
    const at::Tensor left = single ? p.to(at::kFloat) : p;
    at::Tensor out;
    if (!k.defined())
        out = symmetricProduct(left, left);
    else if (k.dim() == 1)
        out = symmetricProduct(left * k.to(left.scalar_type()).unsqueeze(0), left);
    else
        out = symmetricProduct(productWithConverted(left, k), left);
    return out;
}

EigenPairs allEigenpairs(const at::Tensor& symmetric) {
    auto [values, vectors] = at::linalg_eigh(symmetric);
    return {values.flip(0), vectors.flip(1)};
}

struct SymmetricSpectrum::Impl {
    int64_t n = 0;
    bool valuesOnly = false;
    at::Tensor dense; // the matrix, when the dense solvers are used
    // Banded route (CPU): Q^T A Q = band, Q = H(1) .. H(n - kd) stored as in LAPACK.
    int kd = 0;
    at::Tensor reduced;    // sytrd_sy2sb's output (float32 or float64), row-major
    at::Tensor reducedTau; // its tau
    at::Tensor band;       // [n, kd + 1], band[j][d] = B(j + d, j), float64
    // Prepared for leading() on first use: reflectors in float64 (a column-major LAPACK array,
    // seen through a transposed view), their tau [n - kd], and the band in block windows.
    std::once_flag vectorsOnce;
    at::Tensor reflectors;
    at::Tensor tau;
    at::Tensor windows; // [blocks, kd, 3 kd]: block row i of B over column blocks i-1 .. i+1
    // The band eigenvalue solver is sequential, so it runs beside the (parallel) subspace
    // iteration; declared last so that destruction waits for it before the band goes away.
    std::shared_future<at::Tensor> bandValues;

    bool banded() const { return band.defined(); }
    void reduce(const at::Tensor& a, bool single);
    void prepareVectors();
    void buildWindows();
    at::Tensor bandTimes(const at::Tensor& x) const;
    at::Tensor chebyshevFilter(const at::Tensor& x, const at::Tensor& ax,
                               const at::Tensor& theta) const;
    EigenPairs bandLeading(int64_t count) const;
};

void SymmetricSpectrum::Impl::reduce(const at::Tensor& a, bool single) {
    kd = kBandWidth;
    at::Tensor work = single ? (a.scalar_type() == at::kFloat ? a.contiguous().clone()
                                                              : a.to(at::kFloat).contiguous())
                             : (a.scalar_type() == at::kDouble ? a.contiguous().clone()
                                                               : a.to(at::kDouble).contiguous());
    // LAPACK's reduction is one call of seconds on a large matrix: interruptible, so it owns its
    // buffers.
    auto [reducedBand, tau] = runInterruptible([work, kd = kd]() mutable {
        at::Tensor bandOut, tauOut;
        reduceToBand(work, kd, bandOut, tauOut);
        return std::pair{bandOut, tauOut};
    });
    reducedTau = std::move(tau);
    band = reducedBand.to(at::kDouble);
    reduced = std::move(work);
    // The band eigenvalue solver is sequential, so it starts as soon as the band exists and runs
    // beside everything after it.
    const Impl* impl = this;
    bandValues = std::async(std::launch::async, [impl] {
                     return compensate::bandEigenvalues(impl->band);
                 }).share();
}

void SymmetricSpectrum::Impl::prepareVectors() {
    // Only leading() needs the reflectors (eigenvalue-only uses skip this).
    std::call_once(vectorsOnce, [this] {
        if (reduced.scalar_type() == at::kDouble) {
            reflectors = reduced.t(); // column-major view: reflector i in column i below row i + kd
            tau = reducedTau;
            buildWindows();
            return;
        }
        reflectors = reduced.to(at::kDouble).t();
        // H = I - tau v v^T (v = [1; stored part]) is orthogonal only for tau = 2 / v^T v;
        // recomputing tau in float64 makes the back-transformation orthogonal to float64
        // precision, so the eigenvectors stay orthonormal although the reflectors came from
        // float32 arithmetic. Reflector i is row i of the row-major buffer from column i + kd + 1
        // on.
        tau = reducedTau.to(at::kDouble);
        const float* w = reduced.data_ptr<float>();
        double* t = tau.data_ptr<double>();
        at::parallel_for(0, n - kd, 64, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                if (t[i] == 0.0)
                    continue;
                double squares = 1.0;
                for (int64_t j = i + kd + 1; j < n; ++j)
                    squares += static_cast<double>(w[i * n + j]) * w[i * n + j];
                t[i] = 2.0 / squares;
            }
        });
        buildWindows();
    });
}

void SymmetricSpectrum::Impl::buildWindows() {
    // full[j][e] = B(j, j + e - kd), e in [0, 2 kd], from the lower band by symmetry.
    const int64_t blocks = (n + kd - 1) / kd;
    at::Tensor full = at::zeros({blocks * kd, 2 * kd + 1}, band.options());
    for (int64_t d = 0; d <= kd; ++d) {
        const at::Tensor diagonal = band.select(1, d).narrow(0, 0, n - d); // B(j + d, j)
        full.select(1, kd + d).narrow(0, 0, n - d).copy_(diagonal);
        full.select(1, kd - d).narrow(0, d, n - d).copy_(diagonal);
    }
    // windows[i][r][c] = B(i kd + r, (i - 1) kd + c) = full[i kd + r][c - r] when 0 <= c - r <= 2
    // kd.
    const at::Tensor r = at::arange(kd, band.options().dtype(at::kLong)).unsqueeze(1);
    const at::Tensor c = at::arange(3 * kd, band.options().dtype(at::kLong)).unsqueeze(0);
    const at::Tensor e = c - r;
    const at::Tensor valid = (e >= 0).logical_and(e <= 2 * kd);
    const at::Tensor index = e.clamp(0, 2 * kd).unsqueeze(0).expand({blocks, kd, 3 * kd});
    windows = full.view({blocks, kd, 2 * kd + 1}).gather(2, index.contiguous()) *
              valid.unsqueeze(0).to(band.scalar_type());
}

at::Tensor SymmetricSpectrum::Impl::bandTimes(const at::Tensor& x) const {
    // Block-tridiagonal product: block row i of B times rows (i - 1) kd .. (i + 2) kd of x.
    const int64_t blocks = windows.size(0);
    const int64_t cols = x.size(1);
    at::Tensor padded = at::zeros({(blocks + 2) * kd, cols}, x.options());
    padded.narrow(0, kd, n).copy_(x);
    const at::Tensor slices = padded.unfold(0, 3 * kd, kd).transpose(1, 2); // [blocks, 3kd, cols]
    return at::bmm(windows, slices).reshape({blocks * kd, cols}).narrow(0, 0, n);
}

at::Tensor SymmetricSpectrum::Impl::chebyshevFilter(const at::Tensor& x, const at::Tensor& ax,
                                                    const at::Tensor& theta) const {
    // Damp the interval [0, a] below the smallest Ritz value with a Chebyshev polynomial: where
    // the leading eigenvalues are clustered (noise-like dW) this converges in a few dozen band
    // products instead of hundreds of power steps. The degree is capped so that the largest
    // eigenvalue is amplified at most kFilterRange times more than the interval's edge, which
    // keeps the wanted directions resolvable in float64 when the spectrum is steep.
    const double a = theta[theta.size(0) - 1].item<double>();
    const double top = theta[0].item<double>();
    if (!(a > 0.0) || !(top > a))
        return ax;
    const double half = a / 2.0;
    const double x1 = (top - half) / half;
    const int degree = static_cast<int>(
        std::clamp(std::floor(std::acosh(kFilterRange) / std::acosh(x1)), 1.0, kMaxDegree));
    if (degree == 1)
        return ax;
    at::Tensor previous = x;
    at::Tensor current = (ax - half * x) / half;
    for (int j = 2; j <= degree; ++j) {
        at::Tensor next = (bandTimes(current) - half * current) * (2.0 / half) - previous;
        previous = std::move(current);
        current = std::move(next);
    }
    return current;
}

EigenPairs SymmetricSpectrum::Impl::bandLeading(int64_t count) const {
    // Subspace iteration with Rayleigh-Ritz on the band matrix, then back through the reflectors.
    // The first count + kSeedGuard columns of the start are inverse-iteration vectors for the
    // band's exact eigenvalues (computed for the curve anyway), so the first Rayleigh-Ritz step
    // usually passes the residual test (the guard vectors resolve a cluster that straddles
    // `count`); the rest are random, so that Chebyshev filtering still finds the subspace if
    // the seed falls short (eigenvalues too close for inverse iteration to separate).
    const int64_t width = std::min(n, std::max(count + 16, 2 * count));
    at::Generator generator = at::detail::createCPUGenerator(kSubspaceSeed);
    at::Tensor start = at::randn({n, width}, generator, band.options());
    const int64_t seeded = std::min(width, count + kSeedGuard);
    const at::Tensor seed =
        bandInverseIteration(band, bandValues.get().narrow(0, 0, seeded), kSubspaceSeed);
    if (seed.defined())
        start.narrow(1, 0, seeded).copy_(seed);
    at::Tensor x = orthonormalized(start);
    at::Tensor theta, ax;
    bool converged = false;
    for (int iteration = 0; iteration < kMaxIterations && !converged; ++iteration) {
        cancellationPoint();
        ax = bandTimes(x);
        auto [values, rotation] = at::linalg_eigh(symmetrized(at::mm(x.t(), ax)));
        theta = values.flip(0);
        x = at::mm(x, rotation.flip(1));
        ax = at::mm(ax, rotation.flip(1));
        const at::Tensor wanted = theta.narrow(0, 0, count);
        const at::Tensor residual =
            (ax.narrow(1, 0, count) - x.narrow(1, 0, count) * wanted).norm(2, {0});
        const double top = theta.abs().max().item<double>();
        converged = (residual <= kResidualTolerance * wanted.abs() + kResidualFloor * top)
                        .all()
                        .item<bool>();
        if (!converged)
            x = orthonormalized(chebyshevFilter(x, ax, theta));
    }
    if (!converged)
        return {};
    at::Tensor vectors = x.narrow(1, 0, count).contiguous();
    at::Tensor out = vectors.clone();
    if (n > kd) {
        const at::Tensor v = reflectors.narrow(0, kd, n - kd).narrow(1, 0, n - kd);
        out.narrow(0, kd, n - kd).copy_(at::ormqr(v, tau, vectors.narrow(0, kd, n - kd)));
    }
    return {theta.narrow(0, 0, count).clone(), out};
}

SymmetricSpectrum::SymmetricSpectrum(const at::Tensor& symmetric, Precision precision, Use use)
    : m_impl(std::make_unique<Impl>()) {
    cancellationPoint();
    m_impl->n = symmetric.size(0);
    m_impl->valuesOnly = use == Use::ValuesOnly;
    if (bandKernelsAvailable() && symmetric.device().is_cpu() && m_impl->n >= kBandedMinSize) {
        m_impl->reduce(symmetric, singleStages(precision, m_impl->n));
        if (m_impl->valuesOnly)
            m_impl->reduced = at::Tensor(); // only the band is needed from here on
        else
            m_impl->dense = symmetric; // kept for the fallback if subspace iteration stalls
        return;
    }
    m_impl->dense = symmetric.to(at::kDouble);
}

SymmetricSpectrum::~SymmetricSpectrum() = default;

int64_t SymmetricSpectrum::size() const {
    return m_impl->n;
}

at::Tensor SymmetricSpectrum::eigenvalues() const {
    if (m_impl->banded())
        return m_impl->bandValues.get();
    return at::linalg_eigvalsh(m_impl->dense).flip(0);
}

EigenPairs SymmetricSpectrum::leading(int64_t count) const {
    if (m_impl->valuesOnly)
        fail("SymmetricSpectrum", "eigenvectors asked of a spectrum built for eigenvalues only");
    if (count == 0) {
        const auto options = m_impl->dense.options().dtype(at::kDouble);
        return {at::empty({0}, options), at::empty({m_impl->n, 0}, options)};
    }
    if (m_impl->banded() && 4 * count <= m_impl->n) {
        m_impl->prepareVectors();
        EigenPairs pairs = m_impl->bandLeading(count);
        if (pairs.values.defined())
            return pairs;
    }
    const EigenPairs all = allEigenpairs(m_impl->dense.to(at::kDouble));
    return {all.values.narrow(0, 0, count).clone(), all.vectors.narrow(1, 0, count).clone()};
}

std::vector<double> tailSums(const at::Tensor& values) {
    const std::vector<double> v = toVector(values);
    std::vector<double> out(v.size() + 1, 0.0);
    for (size_t i = v.size(); i-- > 0;)
        out[i] = out[i + 1] + std::max(v[i], 0.0);
    return out;
}

std::vector<double> toVector(const at::Tensor& values) {
    const at::Tensor cpu = values.to(at::kCPU, at::kDouble).contiguous();
    return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
}

} // namespace rs::compensate
