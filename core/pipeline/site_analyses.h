#pragma once

#include "compensate/compensation.h"
#include "model/llama.h"

#include <future>
#include <map>
#include <string>
#include <vector>

namespace rs {

// The analyses of one decoder block's linears. The linears that read one input (q/k/v, gate/up)
// share C, so the eigenvalues of C computed for the first are handed to the analysis of the
// others: the most expensive stage of wide layers, done once per input site.
class SiteAnalyses {
public:
    // Starts the eigenvalues of C at this linear's input site unless they were started already.
    // Called before the layer's basis is built, the reduction's n x n working copy (822 MB for
    // down_proj of an 8B model) is gone when the basis needs its memory, and the band solver
    // runs beside the basis.
    void prepare(const InputStats& stats, LinearKind kind, const std::string& layerName);
    // analyzeLayer on this layer, reusing `eoraBasis` (EoRA's basis of this weightError and
    // stats, or null) and the eigenvalues of C of an earlier linear at the same site.
    LayerAnalysis analyze(const at::Tensor& weight, const at::Tensor& weightError,
                          const InputStats& stats, LinearKind kind, const std::string& layerName,
                          const CompensationBasis* eoraBasis);

private:
    std::map<InputSite, std::shared_future<std::vector<double>>> m_started;
    std::map<InputSite, std::vector<double>> m_gramEigenvalues;
};

} // namespace rs
