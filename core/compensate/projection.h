#pragma once

#include "compensate/compensation.h"
#include "compensate/symmetric.h"
#include "compensate/validation.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

// The basis of the projection family (svd, asvd, eora; compensation.cpp), internal: analyzeLayer
// reuses an EoRA basis's reduced error, dW C dW^T and its eigenvalues.
namespace rs::compensate {

class ProjectionBasis final : public CompensationBasis {
public:
    ProjectionBasis(std::string layer, bool gramWeighted)
        : m_layer(std::move(layer))
        , m_gramWeighted(gramWeighted) {}

    LowRankFactors factorsAt(int64_t rank) const override;
    int64_t maxRank() const override { return m_a.size(0); }
    int64_t discardedModes() const override;
    std::vector<double> errorCurve() const override;
    std::string gramRoute() const override { return m_gramRoute; }

    std::string m_layer;
    bool m_gramWeighted = false; // K = C (eora)
    std::string m_gramRoute;
    at::Tensor m_b; // float32 [d_out, maxRank]
    at::Tensor m_a; // float32 [maxRank, d_in]
    at::Tensor m_gram;
    at::Tensor m_p;        // dW = Q P, P [min(d_out, d_in), d_in] float64 (P = dW when not tall)
    at::Tensor m_weighted; // P K P^T: float32 where Precision::Mixed chose single stages
    std::unique_ptr<SymmetricSpectrum> m_spectrum; // of m_weighted

private:
    mutable std::once_flag m_discardedOnce;
    mutable int64_t m_discarded = 0;
    mutable std::once_flag m_curveOnce;
    mutable std::vector<double> m_curve;
};

// buildCompensationBasis on validated inputs: K = `weights` (undefined: the identity; a vector: a
// diagonal; the Gram matrix for eora, with `gramWeighted`), factors up to `maxRank` (0: the
// decomposition only).
std::unique_ptr<ProjectionBasis> buildProjectionBasis(const LayerInputs& in,
                                                      const at::Tensor& weights, bool gramWeighted,
                                                      int64_t maxRank,
                                                      const std::string& layerName);

} // namespace rs::compensate
