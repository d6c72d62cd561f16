#include "calib/stats.h"
#include "compensate/compensation.h"
#include "compensate/gram_factor.h"
#include "compensate/projection.h"
#include "compensate/symmetric.h"
#include "compensate/tridiagonal.h"
#include "compensate/validation.h"
#include "util/error.h"
#include "util/progress.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>
#include <future>
#include <memory>
#include <optional>

namespace rs {

namespace {

using compensate::EigenPairs;
using compensate::Precision;
using compensate::ProjectionBasis;
using compensate::SymmetricSpectrum;

// A basis passed in must hold this layer's error: ||P||_F = ||dW||_F up to the rounding of the
// tall reduction (P = R from a float64 Cholesky factor of dW^T dW).
constexpr double kErrorNormMatch = 1e-9;
// Reused eigenvalues of C must sum to tr(C) and their squares to ||C||_F^2: rounding moves both by
// ~sqrt(n) eps_float32 l_max at most (the band reduction is orthogonal). Statistics drawn from the
// same distribution can share the trace within this tolerance by chance, rarely both invariants.
constexpr double kGramTraceMatch = 1e-3;

// The eigenvalues of C in the precision of the basis (float32 cubic stages from 1024 on), the
// band solver running on its own thread until get(); the spectrum keeps only the band.
std::shared_future<std::vector<double>> startSpectrum(const at::Tensor& gram) {
    auto spectrum = std::make_shared<const SymmetricSpectrum>(gram, Precision::Mixed,
                                                              SymmetricSpectrum::Use::ValuesOnly);
    return std::async(std::launch::deferred,
                      [spectrum] { return compensate::toVector(spectrum->eigenvalues()); })
        .share();
}

// ||x||_F^2 in float64, by row slices: a float64 copy of the whole dW is what the caller avoids.
double squaredNorm(const at::Tensor& x) {
    const int64_t rows = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(x.size(1), 1));
    double total = 0.0;
    for (int64_t r0 = 0; r0 < x.size(0); r0 += rows) {
        cancellationPoint();
        total += x.narrow(0, r0, std::min(rows, x.size(0) - r0))
                     .to(at::kDouble)
                     .pow(2)
                     .sum()
                     .item<double>();
    }
    return total;
}

std::vector<double> rootsOf(const at::Tensor& squares) {
    return compensate::toVector(squares.clamp_min(0.0).sqrt());
}

// sum_j a_ij b_ij per row, in float64 (float32 rows are summed in float32 first: each row is
// short enough for ATen's cascade summation to keep ~1e-7).
at::Tensor rowSums(const at::Tensor& a, const at::Tensor& b) {
    return (a * b.to(a.scalar_type())).sum(1).to(at::kDouble);
}

void checkWeight(const at::Tensor& weight, const at::Tensor& weightError,
                 const std::string& layerName) {
    if (!weight.defined() || weight.sizes() != weightError.sizes())
        fail(layerName, "weight and weight error differ in shape");
    if (!allFinite(weight))
        fail(layerName, "weight contains NaN or Inf");
}

// Everything is taken from the EoRA basis's reduced space: dW = Q P (P = dW unless the layer is
// tall), M = P C P^T (dW C dW^T there) and its eigenvalues.
LayerAnalysis analyzeWith(const at::Tensor& weight, const compensate::LayerInputs& in,
                          const ProjectionBasis& eora, bool weightIsError,
                          const std::vector<double>* gramEigenvalues) {
    const at::Tensor& m = eora.m_weighted;
    const auto type = m.scalar_type(); // float32 where the basis ran the cubic stages in single

    // Left singular vectors U of P (those of dW, mapped by Q) from its Gram matrix, in float64:
    // the SVD curve needs eigenvectors that float32 would mix between close singular values (see
    // tridiagonal.h). Large layers take the tridiagonal route, whose MRRR stage runs beside the
    // spectra of C and W below.
    std::optional<compensate::TridiagonalEigensolver> tridiagonal;
    if (type == at::kFloat && eora.m_p.device().is_cpu() &&
        compensate::TridiagonalEigensolver::available())
        tridiagonal.emplace(compensate::gramOfRows(eora.m_p));

    // Eigenvalues of C and singular values of W (float32 cubic stages from 1024 on, like the
    // basis); the band eigenvalue solvers run on their own threads until collected.
    constexpr auto valuesOnly = SymmetricSpectrum::Use::ValuesOnly;
    std::shared_future<std::vector<double>> gramValues;
    if (!gramEigenvalues)
        gramValues = startSpectrum(in.gram);
    std::optional<SymmetricSpectrum> weightSpectrum;
    double outputEnergy = 0.0;
    if (!weightIsError) {
        const int64_t shortSide = std::min(in.dOut, in.dIn);
        const at::Tensor w = weight.detach().to(
            in.error.device(),
            compensate::singleStages(Precision::Mixed, shortSide) ? at::kFloat : at::kDouble);
        // tr(W C W^T), only a normaliser: float32 products suffice (~1e-6).
        if (in.dOut >= in.dIn) {
            const at::Tensor inputs = compensate::gramOfColumns(w); // W^T W, no larger than W
            weightSpectrum.emplace(inputs, Precision::Mixed, valuesOnly);
            outputEnergy = rowSums(inputs, in.gram).sum().item<double>();
        } else {
            weightSpectrum.emplace(compensate::gramOfRows(w), Precision::Mixed, valuesOnly);
            outputEnergy = compensate::congruenceTrace(w.to(at::kFloat), in.gram);
        }
    }

    EigenPairs pairs;
    if (tridiagonal) {
        pairs = tridiagonal->pairs(type);
        tridiagonal.reset(); // frees the reflectors and the tridiagonal eigenvectors
    }
    if (!pairs.values.defined())
        pairs = compensate::allEigenpairs(compensate::gramOfRows(eora.m_p));
    // The plain SVD keeps the leading u_i; each removes u_i^T M u_i = S_i^2 v_i^T C v_i of the
    // error (exact: U has orthonormal columns, so cross terms cancel in the trace).
    const at::Tensor ut = pairs.vectors.t().to(type);
    const at::Tensor gains = rowSums(at::mm(ut, m), ut);

    LayerAnalysis out;
    ErrorCurves& curves = out.curves;
    curves.svd = compensate::tailSums(gains);
    curves.eora = eora.errorCurve(); // the eigenvalues of M, summed from the tail
    curves.errorEnergy = curves.svd.front();
    curves.eora.front() = curves.errorEnergy; // both are tr(dW C dW^T) at rank 0
    curves.outputEnergy = weightIsError ? curves.errorEnergy : outputEnergy;

    LayerSpectra& spectra = out.spectra;
    spectra.gramEigenvalues = gramEigenvalues ? *gramEigenvalues : gramValues.get();
    spectra.tolerance = compensate::gramTolerance(spectra.gramEigenvalues.front(), in.dIn);
    spectra.discardedModes =
        std::count_if(spectra.gramEigenvalues.begin(), spectra.gramEigenvalues.end(),
                      [&](double l) { return l <= spectra.tolerance; });
    spectra.errorSingular = rootsOf(pairs.values);
    spectra.weightSingular =
        weightIsError ? spectra.errorSingular : rootsOf(weightSpectrum->eigenvalues());
    spectra.scaledErrorSingular = rootsOf(eora.m_spectrum->eigenvalues());
    return out;
}

// The basis passed in must be an EoRA basis of this dW and C.
const ProjectionBasis& checkedBasis(const CompensationBasis& eora,
                                    const compensate::LayerInputs& in,
                                    const std::string& layerName) {
    const auto* basis = dynamic_cast<const ProjectionBasis*>(&eora);
    if (!basis || !basis->m_gramWeighted)
        fail(layerName, "analyzeLayer reuses an EoRA basis only (built with \"eora\")");
    const at::Tensor& p = basis->m_p;
    bool matches = p.size(0) == in.maxRank() && p.size(1) == in.dIn &&
                   p.device() == in.error.device() && basis->m_gram.sizes() == in.gram.sizes() &&
                   at::equal(basis->m_gram, in.gram);
    if (matches) {
        const double error = squaredNorm(in.error);
        matches = std::abs(std::pow(p.norm().item<double>(), 2) - error) <= kErrorNormMatch * error;
    }
    if (!matches)
        fail(layerName, "the EoRA basis was built for another weight error or other statistics");
    return *basis;
}

// Eigenvalues passed in must be as many as C has, with its trace and Frobenius norm.
void checkGramEigenvalues(const std::vector<double>& values, const compensate::LayerInputs& in,
                          const std::string& layerName) {
    // Norm and trace read C in place: no d_in^2 temporary (1.6 GB for a 14336-wide down_proj).
    const at::Tensor& gram = in.gram;
    const double trace = gram.diagonal().sum(at::kDouble).item<double>();
    const double squares = std::pow(gram.norm().item<double>(), 2);
    double sum = 0.0, sumSquares = 0.0;
    for (double l : values) {
        sum += l;
        sumSquares += l * l;
    }
    const bool matches = int64_t(values.size()) == in.dIn &&
                         std::abs(sum - trace) <= kGramTraceMatch * trace &&
                         std::abs(sumSquares - squares) <= kGramTraceMatch * squares;
    if (!matches)
        fail(layerName, "the eigenvalues of C passed in belong to other statistics");
}

} // namespace

LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName) {
    return analyzeLayer(weight, weightError, stats, layerName, AnalysisReuse{});
}

LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName,
                           const CompensationBasis& eora) {
    return analyzeLayer(weight, weightError, stats, layerName, AnalysisReuse{&eora, nullptr});
}

std::shared_future<std::vector<double>> startGramEigenvalues(const InputStats& stats,
                                                             const std::string& siteName) {
    return startSpectrum(compensate::validatedGram(stats, siteName).to(at::kDouble));
}

LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName,
                           const AnalysisReuse& reuse) {
    // A reused basis holds dW in float64 already; analyzeWith then reads only dW's shape, device
    // and norm, so dW stays in the caller's dtype.
    const compensate::LayerInputs in =
        reuse.eoraBasis ? compensate::checkedInputs(weightError, stats, layerName)
                        : compensate::validatedInputs(weightError, stats, layerName);
    checkWeight(weight, weightError, layerName);
    if (reuse.gramEigenvalues)
        checkGramEigenvalues(*reuse.gramEigenvalues, in, layerName);
    const bool weightIsError = weight.is_same(weightError);
    if (reuse.eoraBasis)
        return analyzeWith(weight, in, checkedBasis(*reuse.eoraBasis, in, layerName), weightIsError,
                           reuse.gramEigenvalues);
    const auto eora = compensate::buildProjectionBasis(in, in.gram, /*gramWeighted=*/true,
                                                       /*maxRank=*/0, layerName);
    return analyzeWith(weight, in, *eora, weightIsError, reuse.gramEigenvalues);
}

} // namespace rs
