#include "pipeline/site_analyses.h"

namespace rs {

void SiteAnalyses::prepare(const InputStats& stats, LinearKind kind, const std::string& layerName) {
    const InputSite site = inputSiteOf(kind);
    if (!m_gramEigenvalues.count(site) && !m_started.count(site))
        m_started.emplace(site, startGramEigenvalues(stats, layerName));
}

LayerAnalysis SiteAnalyses::analyze(const at::Tensor& weight, const at::Tensor& weightError,
                                    const InputStats& stats, LinearKind kind,
                                    const std::string& layerName,
                                    const CompensationBasis* eoraBasis) {
    AnalysisReuse reuse;
    reuse.eoraBasis = eoraBasis;
    const InputSite site = inputSiteOf(kind);
    if (const auto started = m_started.find(site); started != m_started.end()) {
        m_gramEigenvalues.try_emplace(site, started->second.get());
        m_started.erase(started);
    }
    const auto known = m_gramEigenvalues.find(site);
    if (known != m_gramEigenvalues.end())
        reuse.gramEigenvalues = &known->second;
    LayerAnalysis analysis = analyzeLayer(weight, weightError, stats, layerName, reuse);
    m_gramEigenvalues.try_emplace(site, analysis.spectra.gramEigenvalues);
    return analysis;
}

} // namespace rs
