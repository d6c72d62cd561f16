#pragma once

#include "methods/registry.h"

#include <ATen/core/Tensor.h>
#include <future>
#include <memory>
#include <string>
#include <vector>

namespace rs {

struct InputStats;

// A low-rank path y += B (A x): B [d_out, r], A [r, d_in], float32.
struct LowRankFactors {
    at::Tensor B;
    at::Tensor A;
    int64_t rank() const { return A.defined() ? A.size(0) : 0; }
};

// The error-vs-rank curves of one layer for r = 0 .. min(d_out, d_in) (docs/design.md §2), all in
// the activation-weighted metric E(r) = tr((dW - B A) C (dW - B A)^T), unnormalised.
struct ErrorCurves {
    std::vector<double> svd;   // plain SVD of dW, measured with C
    std::vector<double> eora;  // EoRA, the exact optimum for each r
    double errorEnergy = 0.0;  // tr(dW C dW^T) = E(0): divide for "fraction of error left"
    double outputEnergy = 0.0; // tr(W C W^T): divide for "relative output error"
};

// Spectra for the analysis views, each descending, float64.
struct LayerSpectra {
    std::vector<double> gramEigenvalues;     // eigenvalues of C
    std::vector<double> weightSingular;      // singular values of W
    std::vector<double> errorSingular;       // singular values of dW
    std::vector<double> scaledErrorSingular; // singular values of dW S (S S^T = C)
    int64_t discardedModes = 0;              // eigen-modes of C below the EoRA tolerance
    double tolerance = 0.0;                  // that tolerance
};

// One decomposition of a layer's error, reused for every rank of a sweep: factorsAt(r) for any
// r <= maxRank without recomputing. Built for one Compensation method of the registry.
//
// All three methods fit B A = U_r U_r^T dW, the projection of dW onto the r leading eigenvectors
// of dW K dW^T, with K = I (svd), diag(mean|x|^(2 alpha)) (asvd) or C (eora). For svd and asvd
// this is the usual truncated SVD of dW K^(1/2) with the right factor divided by K^(1/2); for eora
// it is the exact minimiser of tr((dW - B A) C (dW - B A)^T) for any PSD C, singular or not,
// without a pseudo-inverse of C (see compensate/README.md). B and A are balanced: column i of B and
// row i of A have the same norm (for svd: U S^(1/2) and S^(1/2) V^T).
class CompensationBasis {
public:
    virtual ~CompensationBasis() = default;
    virtual LowRankFactors factorsAt(int64_t rank) const = 0;
    virtual int64_t maxRank() const = 0;
    // EoRA: eigen-modes of C at or below the tolerance l_max * max(1, d_in) * eps_float32, the
    // input directions the calibration data does not constrain; others 0.
    virtual int64_t discardedModes() const = 0;
    // E(r) = tr((dW - B_r A_r) C (dW - B_r A_r)^T) of this basis's own factors for r = 0 ..
    // min(d_out, d_in) (maxRank() bounds only factorsAt), computed on first use. Empty where an
    // implementation does not provide it.
    virtual std::vector<double> errorCurve() const { return {}; }
    // How dW C dW^T was formed (eora): "cholesky" (C = L L^T, then (dW L)(dW L)^T), or "direct"
    // with the reason the factor was not used (e.g. C not numerically positive definite: fewer
    // tokens than inputs), plus any dead input channels dropped. Both routes are exact; empty for
    // methods without a Gram matrix.
    virtual std::string gramRoute() const { return {}; }
};

// Prepares the decomposition of `matrix` (dW for a compensation, W itself for LoRD) under one
// input weighting K of the registry; `alpha` is the exponent of ActivationScale, unused by the
// others. `maxRank` bounds the ranks that will be asked for (lets the implementation compute only
// the leading singular vectors). Fails with "<layerName>: <problem>" for InputWeighting::None,
// NaN/Inf in the matrix or C, a rank larger than min(d_out, d_in), or statistics that do not
// match the layer.
std::unique_ptr<CompensationBasis>
buildWeightedBasis(InputWeighting weighting, const at::Tensor& matrix, const InputStats& stats,
                   int64_t maxRank, const std::string& layerName, double alpha = 0.0);

// The decomposition of dW for a compensation `method` of the registry (its traits' weighting,
// its parameters); "none" fits nothing and fails. Errors as buildWeightedBasis.
std::unique_ptr<CompensationBasis> buildCompensationBasis(const MethodConfig& method,
                                                          const at::Tensor& weightError,
                                                          const InputStats& stats, int64_t maxRank,
                                                          const std::string& layerName);

// The factors `method` (a compensation or a LoRD method) deploys at `rank`: the basis's factors,
// RTN-quantized per output row and dequantized to float32 when its factor_bits is set.
LowRankFactors deployedFactors(const MethodConfig& method, const CompensationBasis& basis,
                               int64_t rank);
// The method's factor_bits (0: float32 factors, also for methods without the parameter).
int factorBits(const MethodConfig& method);

// The whole analysis of one layer: spectra of C, W, dW, dW S and both error curves.
struct LayerAnalysis {
    LayerSpectra spectra;
    ErrorCurves curves;
};
// Builds the EoRA decomposition of dW C dW^T (no factors) for the EoRA curve and sigma(dW S).
// Layers with min(d_out, d_in) >= 1024 use the basis's mixed precision (compensate/README.md).
LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName);
// The eigenvalues of C (float64, descending) exactly as analyzeLayer reports them, started now:
// the reduction runs in this call (its n x n working copy is freed before it returns), the band
// eigenvalue solver on its own thread until get(). A caller that starts them before building a
// layer's basis keeps that copy out of the basis's peak and overlaps the solver with the basis.
// Fails with "<siteName>: <problem>" for missing or non-finite statistics.
std::shared_future<std::vector<double>> startGramEigenvalues(const InputStats& stats,
                                                             const std::string& siteName);

// What a caller already holds for a layer's analysis; each part it gives saves a stage and leaves
// the results as they would be without it.
struct AnalysisReuse {
    // buildCompensationBasis with "eora" (any maxRank) for this weightError and stats: its
    // decomposition of dW C dW^T gives the EoRA curve, sigma(dW S) and the SVD curve's metric.
    const CompensationBasis* eoraBasis = nullptr;
    // spectra.gramEigenvalues of an earlier analysis with the same C (layers that share an input
    // site: q/k/v, gate/up), the most expensive stage of wide layers.
    const std::vector<double>* gramEigenvalues = nullptr;
};
// Fails when `reuse` holds a basis that is not EoRA or not of this layer, or eigenvalues whose
// count or sum (the trace of C) do not match these statistics.
LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName,
                           const AnalysisReuse& reuse);
// analyzeLayer reusing `eora` only.
LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName,
                           const CompensationBasis& eora);

// The dtype in which C [d_in, d_in] keeps everything the curves and factors draw from it, for
// storage: float32 from the size on where the cubic stages run in float32 anyway (rounding C to
// float32 moves the curves by ~1e-8 of E(0), tested in tst_analysis), float64 below it.
at::ScalarType gramStorageType(int64_t dIn);

// The activation-weighted error tr((dW - B A) C (dW - B A)^T) of given factors (for checks).
double compensatedError(const at::Tensor& weightError, const LowRankFactors& factors,
                        const at::Tensor& gram);

} // namespace rs
