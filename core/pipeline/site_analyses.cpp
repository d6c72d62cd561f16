#include "pipeline/site_analyses.h"

namespace rs {

LayerAnalysis SiteAnalyses::analyze(const at::Tensor& weight, const at::Tensor& weightError,
                                    const InputStats& stats, LinearKind kind,
                                    const std::string& layerName,
                                    const CompensationBasis* eoraBasis) {
    AnalysisReuse reuse;
    reuse.eoraBasis = eoraBasis;
    const InputSite site = inputSiteOf(kind);
    const auto known = m_gramEigenvalues.find(site);
    if (known != m_gramEigenvalues.end())
        reuse.gramEigenvalues = &known->second;
    LayerAnalysis analysis = analyzeLayer(weight, weightError, stats, layerName, reuse);
    m_gramEigenvalues.try_emplace(site, analysis.spectra.gramEigenvalues);
    return analysis;
}

} // namespace rs
