#include "calib/stats.h"
#include "lowrank/compensation.h"
#include "lowrank/symmetric.h"
#include "lowrank/validation.h"
#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

namespace {

using lowrank::EigenPairs;
using lowrank::Precision;
using lowrank::SymmetricSpectrum;

// Singular values of a matrix from the eigenvalues of the Gram matrix of its short side (exact
// down to about sqrt(eps_float64) of the largest, which is what a spectrum plot shows).
std::vector<double> singularValues(const at::Tensor& m) {
    const at::Tensor gram = m.size(0) <= m.size(1) ? lowrank::symmetricProduct(m, m)
                                                   : lowrank::symmetricProduct(m.t(), m.t());
    return lowrank::toVector(
        SymmetricSpectrum(gram, Precision::Float64).eigenvalues().clamp_min(0.0).sqrt());
}

} // namespace

LayerAnalysis analyzeLayer(const at::Tensor& weight, const at::Tensor& weightError,
                           const InputStats& stats, const std::string& layerName) {
    const lowrank::LayerInputs in = lowrank::validatedInputs(weightError, stats, layerName);
    if (!weight.defined() || weight.sizes() != weightError.sizes())
        fail(layerName, "weight and weight error differ in shape");
    if (!at::isfinite(weight).all().item<bool>())
        fail(layerName, "weight contains NaN or Inf");
    const at::Tensor& e = in.error;
    const at::Tensor& c = in.gram;

    // SVD of dW through the Gram matrix of its short side: rows of P are S_i v_i^T, descending.
    at::Tensor squares;
    at::Tensor p;
    if (in.dOut <= in.dIn) {
        const EigenPairs pairs = lowrank::allEigenpairs(lowrank::symmetricProduct(e, e));
        squares = pairs.values.clamp_min(0.0);
        p = at::mm(pairs.vectors.t(), e);
    } else {
        const EigenPairs pairs = lowrank::allEigenpairs(lowrank::symmetricProduct(e.t(), e.t()));
        squares = pairs.values.clamp_min(0.0);
        p = squares.sqrt().unsqueeze(1) * pairs.vectors.t();
    }
    // T = P C P^T: its diagonal holds S_i^2 v_i^T C v_i (the plain SVD's per-direction gain, exact
    // because U has orthonormal columns, so cross terms cancel in the trace) and its eigenvalues
    // are the squared singular values of dW S for any S S^T = C (EoRA's gains).
    const at::Tensor t = lowrank::congruence(p, c, Precision::Float64);
    const at::Tensor gains = SymmetricSpectrum(t, Precision::Float64).eigenvalues();

    LayerAnalysis out;
    ErrorCurves& curves = out.curves;
    curves.svd = lowrank::tailSums(t.diagonal());
    curves.eora = lowrank::tailSums(gains);
    curves.errorEnergy = curves.svd.front();
    curves.eora.front() = curves.errorEnergy; // both are tr(dW C dW^T) at rank 0
    // Only a normaliser: float32 products are accurate to ~1e-6 here.
    const at::Tensor w = weight.detach().to(e.device(), at::kFloat);
    curves.outputEnergy = (at::mm(w, c.to(at::kFloat)) * w).sum(at::kDouble).item<double>();

    LayerSpectra& spectra = out.spectra;
    const at::Tensor gramValues = SymmetricSpectrum(c, Precision::Float64).eigenvalues();
    spectra.gramEigenvalues = lowrank::toVector(gramValues);
    spectra.tolerance = lowrank::gramTolerance(spectra.gramEigenvalues.front(), in.dIn);
    spectra.discardedModes = (gramValues <= spectra.tolerance).sum().item<int64_t>();
    spectra.weightSingular = singularValues(weight.detach().to(e.device(), at::kDouble));
    spectra.errorSingular = lowrank::toVector(squares.sqrt());
    spectra.scaledErrorSingular = lowrank::toVector(gains.clamp_min(0.0).sqrt());
    return out;
}

} // namespace rs
