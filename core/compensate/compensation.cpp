#include "compensate/compensation.h"

#include "calib/stats.h"
#include "compensate/gram_factor.h"
#include "compensate/projection.h"
#include "compensate/symmetric.h"
#include "compensate/validation.h"
#include "compress/quantgrid.h"
#include "compress/rtn.h"
#include "util/error.h"
#include "util/progress.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>

namespace rs {

namespace {

using compensate::EigenPairs;
using compensate::ProjectionBasis;
using compensate::SymmetricSpectrum;

// Cholesky of dW^T dW is used to shrink tall layers only while it is well conditioned: the lifted
// directions dW R^-1 z lose orthogonality like cond(R)^2 * eps_float64.
constexpr double kCholeskyDiagonalRatio = 1e-4;
// Eigen route: directions of dW^T dW below this fraction of the largest are dW's null space.
constexpr double kNullSpaceRatio = 1e-12;
// Block power iteration for the largest eigenvalue of C (it only scales the tolerance).
constexpr int64_t kPowerBlock = 8;
constexpr int kPowerIterations = 30;

// dW = Q P with Q [d_out, m] orthonormal and P [m, d_in], m = min(d_out, d_in): every quantity
// of the projection family lives in the m-dimensional space, so tall layers never form
// d_out x d_out matrices.
struct Reduction {
    at::Tensor p;
    at::Tensor upper;     // Cholesky route: P = R, Q = dW R^-1
    at::Tensor pinvRight; // eigen route: P = L^(1/2) V^T, Q = dW V L^(-1/2)

    // Q z for columns z [m, k].
    at::Tensor lift(const at::Tensor& error, const at::Tensor& z) const {
        if (upper.defined())
            return at::mm(error, at::linalg_solve_triangular(upper, z, /*upper=*/true));
        if (pinvRight.defined())
            return at::mm(error, at::mm(pinvRight, z));
        return z;
    }
};

Reduction reduce(const at::Tensor& error) {
    Reduction out;
    if (error.size(0) <= error.size(1)) {
        out.p = error;
        return out;
    }
    const at::Tensor gram = compensate::symmetricProduct(error.t(), error.t());
    auto [r, info] = at::linalg_cholesky_ex(gram, /*upper=*/true);
    if (info.item<int64_t>() == 0) {
        const at::Tensor diagonal = r.diagonal().abs();
        const double largest = diagonal.max().item<double>();
        if (largest > 0.0 && diagonal.min().item<double>() > kCholeskyDiagonalRatio * largest) {
            out.p = r;
            out.upper = r;
            return out;
        }
    }
    const EigenPairs pairs = compensate::allEigenpairs(gram);
    const at::Tensor singular = pairs.values.clamp_min(0.0).sqrt();
    const double largest = singular.max().item<double>();
    const at::Tensor inverse = at::where(singular > kNullSpaceRatio * largest,
                                         singular.reciprocal(), at::zeros_like(singular));
    out.p = singular.unsqueeze(1) * pairs.vectors.t();
    out.pinvRight = pairs.vectors * inverse.unsqueeze(0);
    return out;
}

// Largest eigenvalue of a PSD matrix, from a few block power steps with Rayleigh-Ritz.
double largestEigenvalue(const at::Tensor& c) {
    const int64_t n = c.size(0);
    if (n <= 512)
        return at::linalg_eigvalsh(c).max().item<double>();
    at::Generator generator = at::detail::createCPUGenerator(0x1a2b3c);
    at::Tensor x = at::randn({n, kPowerBlock}, generator, c.options().device(at::kCPU));
    x = std::get<0>(at::linalg_qr(x.to(c.device())));
    for (int i = 0; i < kPowerIterations; ++i) {
        cancellationPoint();
        x = std::get<0>(at::linalg_qr(at::mm(c, x)));
    }
    return at::linalg_eigvalsh(at::mm(x.t(), at::mm(c, x))).max().item<double>();
}

// Per-column weights of ASVD: mean|x|^alpha, squared (the K of the projection family).
at::Tensor activationWeights(const InputStats& stats, const compensate::LayerInputs& in,
                             double alpha, const std::string& layerName) {
    if (!stats.meanAbs.defined() || stats.meanAbs.numel() != in.dIn)
        fail(layerName, "calibration statistics lack mean |x| for " + std::to_string(in.dIn) +
                            " inputs (needed by asvd)");
    const at::Tensor mean = stats.meanAbs.detach().to(in.error.device(), at::kDouble).flatten();
    if (!at::isfinite(mean).all().item<bool>())
        fail(layerName, "calibration mean |x| contains NaN or Inf");
    // pow(0, 0) = 1, so alpha = 0 is exactly plain SVD; with alpha > 0 a dead channel weighs 0.
    return mean.clamp_min(0.0).pow(alpha).square();
}

} // namespace

std::unique_ptr<CompensationBasis> buildWeightedBasis(InputWeighting weighting,
                                                      const at::Tensor& matrix,
                                                      const InputStats& stats, int64_t maxRank,
                                                      const std::string& layerName, double alpha) {
    if (weighting == InputWeighting::None)
        fail(layerName, "a method without an input weighting fits no low-rank basis");
    const compensate::LayerInputs in = compensate::validatedInputs(matrix, stats, layerName);
    if (maxRank < 0 || maxRank > in.maxRank())
        fail(layerName, "rank " + std::to_string(maxRank) +
                            " exceeds min(d_out, d_in) = " + std::to_string(in.maxRank()));
    at::Tensor weights; // K: undefined = identity
    switch (weighting) {
    case InputWeighting::None:
    case InputWeighting::Identity:
        break;
    case InputWeighting::ActivationScale:
        weights = activationWeights(stats, in, alpha, layerName);
        break;
    case InputWeighting::Gram:
        weights = in.gram;
        break;
    }
    return compensate::buildProjectionBasis(in, weights, weighting == InputWeighting::Gram, maxRank,
                                            layerName);
}

std::unique_ptr<CompensationBasis> buildCompensationBasis(const MethodConfig& method,
                                                          const at::Tensor& weightError,
                                                          const InputStats& stats, int64_t maxRank,
                                                          const std::string& layerName) {
    if (method.kind() != MethodKind::Compensation)
        fail(layerName, "'" + method.id() + "' is not a compensation method");
    const MethodSpec& spec = method.spec();
    if (!spec.fitsFactors())
        fail(layerName, "compensation method '" + method.id() + "' has no low-rank basis");
    const double alpha = spec.param("alpha") ? method.real("alpha") : 0.0;
    return buildWeightedBasis(spec.traits.weighting, weightError, stats, maxRank, layerName, alpha);
}

int factorBits(const MethodConfig& method) {
    return method.spec().param("factor_bits") ? static_cast<int>(method.integer("factor_bits")) : 0;
}

LowRankFactors deployedFactors(const MethodConfig& method, const CompensationBasis& basis,
                               int64_t rank) {
    LowRankFactors factors = basis.factorsAt(rank);
    const int bits = factorBits(method);
    if (bits == 0 || factors.rank() == 0)
        return factors;
    // One scale per output row of each factor (group -1), asymmetric: LoRD's factor quantization.
    return {dequantize(quantizeRtn(factors.B, bits, -1, false)),
            dequantize(quantizeRtn(factors.A, bits, -1, false))};
}

namespace compensate {

LowRankFactors ProjectionBasis::factorsAt(int64_t rank) const {
    if (rank < 0 || rank > maxRank())
        fail(m_layer, "rank " + std::to_string(rank) + " is outside the prepared basis (0.." +
                          std::to_string(maxRank()) + ")");
    return {m_b.narrow(1, 0, rank).clone(), m_a.narrow(0, 0, rank).clone()};
}

int64_t ProjectionBasis::discardedModes() const {
    if (!m_gramWeighted)
        return 0;
    std::call_once(m_discardedOnce, [this] {
        const double tol = gramTolerance(largestEigenvalue(m_gram), m_gram.size(0));
        m_discarded = countEigenvaluesAtMost(m_gram, tol);
    });
    return m_discarded;
}

std::vector<double> ProjectionBasis::errorCurve() const {
    std::call_once(m_curveOnce, [this] {
        if (m_gramWeighted) {
            // The weighted matrix is dW C dW^T itself: its eigenvalues are the curve.
            m_curve = tailSums(m_spectrum->eigenvalues());
            return;
        }
        // Order the directions as the basis does, measure each with C.
        const EigenPairs pairs = allEigenpairs(m_weighted.to(at::kDouble));
        const at::Tensor rows = at::mm(pairs.vectors.t(), m_p);
        m_curve = tailSums((at::mm(rows, m_gram) * rows).sum(1));
    });
    return m_curve;
}

std::unique_ptr<ProjectionBasis> buildProjectionBasis(const LayerInputs& in,
                                                      const at::Tensor& weights, bool gramWeighted,
                                                      int64_t maxRank,
                                                      const std::string& layerName) {
    auto basis = std::make_unique<ProjectionBasis>(layerName, gramWeighted);
    const Reduction reduction = reduce(in.error);
    basis->m_gram = in.gram;
    basis->m_p = reduction.p;
    // Mixed precision: the basis serves compression runs, rank sweeps and the analysis, where the
    // cubic stages dominate.
    CongruenceRoute route;
    basis->m_weighted = congruence(reduction.p, weights, Precision::Mixed, &route);
    if (gramWeighted)
        basis->m_gramRoute = std::string(route.cholesky ? "cholesky" : "direct") +
                             (route.note.empty() ? "" : ": " + route.note);
    basis->m_spectrum = std::make_unique<SymmetricSpectrum>(basis->m_weighted, Precision::Mixed);

    if (maxRank == 0) {
        const auto options = in.error.options().dtype(at::kFloat);
        basis->m_b = at::empty({in.dOut, 0}, options);
        basis->m_a = at::empty({0, in.dIn}, options);
        return basis;
    }
    const EigenPairs pairs = basis->m_spectrum->leading(maxRank);
    const at::Tensor rows = at::mm(pairs.vectors.t(), reduction.p);  // U^T dW
    at::Tensor directions = reduction.lift(in.error, pairs.vectors); // U
    // Balance: ||B_i|| = ||A_i|| = sqrt(||U_i^T dW||); a zero row gives a zero pair.
    const at::Tensor scale = rows.norm(2, {1}).sqrt();
    const at::Tensor inverse = at::where(scale > 0.0, scale.reciprocal(), at::zeros_like(scale));
    // Deterministic signs: the largest entry of each column of B is positive.
    const at::Tensor peak = directions.abs().argmax(0, /*keepdim=*/true);
    const at::Tensor sign = at::where(directions.gather(0, peak) < 0.0, -1.0, 1.0).squeeze(0);
    basis->m_b = (directions * (scale * sign).unsqueeze(0)).to(at::kFloat).contiguous();
    basis->m_a = (rows * (inverse * sign).unsqueeze(1)).to(at::kFloat).contiguous();
    return basis;
}

} // namespace compensate

at::ScalarType gramStorageType(int64_t dIn) {
    return compensate::singleStages(compensate::Precision::Mixed, dIn) ? at::kFloat : at::kDouble;
}

double compensatedError(const at::Tensor& weightError, const LowRankFactors& factors,
                        const at::Tensor& gram) {
    const at::Device device = weightError.device();
    const at::Tensor c = gram.detach().to(device, at::kDouble);
    const int64_t rows = weightError.size(0), cols = weightError.size(1);
    if (c.dim() != 2 || c.size(0) != cols || c.size(1) != cols)
        fail("compensatedError", "Gram matrix does not match the layer's inputs");
    const at::Tensor b =
        factors.rank() > 0 ? factors.B.detach().to(device, at::kDouble) : at::Tensor();
    const at::Tensor a =
        factors.rank() > 0 ? factors.A.detach().to(device, at::kDouble) : at::Tensor();
    // tr(R C R^T) summed over slices of rows of R = dW - B A: the float64 temporaries stay at a
    // few MB where the whole residual of a 5632 x 2048 layer would need several of 92 MB.
    const int64_t sliceRows = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(cols, 1));
    double total = 0.0;
    for (int64_t r0 = 0; r0 < rows; r0 += sliceRows) {
        cancellationPoint();
        const int64_t n = std::min(sliceRows, rows - r0);
        at::Tensor residual = weightError.detach().narrow(0, r0, n).to(device, at::kDouble);
        if (b.defined())
            residual.sub_(at::mm(b.narrow(0, r0, n), a));
        total += (at::mm(residual, c) * residual).sum().item<double>();
    }
    return total;
}

} // namespace rs
