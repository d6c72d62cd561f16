#include "pipeline/experiment_points.h"

#include "budget/pareto.h"
#include "methods/registry.h"
#include "pipeline/experiment_compare.h"
#include "pipeline/rank_planning.h"
#include "store/experiment_store.h"

#include <cmath>
#include <limits>

namespace rs {

ExperimentPoints experimentPoints(const ExperimentStore& store, const std::string& modelPath,
                                  bool byPerplexity) {
    ExperimentPoints out;
    ExperimentFilter filter;
    filter.status = ExperimentStatus::Done;
    for (const ExperimentSummary& summary : store.listExperiments(filter)) {
        if (!modelPath.empty() && summary.modelPath != modelPath)
            continue;
        const ExperimentRecord& e = summary.experiment;
        const std::vector<VariantRecord> variants = store.variants(e.id);
        const std::vector<LayerRecord> layers = store.layers(e.id, false);
        const auto model = store.model(e.modelId);
        std::optional<SizeModel> sizes;
        try {
            if (model && !layers.empty())
                sizes = sizeModelOf(model->parameters, layers,
                                    MethodConfig::parse(e.compression, MethodKind::Compression));
        } catch (const std::exception&) {
            // A compression without a bit width (pruning alone) has no size in this plane.
        }
        if (!sizes) {
            out.skipped += int64_t(variants.size());
            continue;
        }
        const auto perplexities = experimentPerplexities(store, e.id);
        if (const auto it = perplexities.find("original");
            it != perplexities.end() && !out.originalPerplexity)
            out.originalPerplexity = it->second;
        for (const VariantRecord& v : variants) {
            double error = 0.0;
            size_t counted = 0;
            for (const LayerRecord& l : layers)
                if (size_t(v.index) < l.errorAfter.size()) {
                    error += l.errorAfter[size_t(v.index)];
                    ++counted;
                }
            if (counted == 0) {
                ++out.skipped;
                continue;
            }
            ExperimentPoint p;
            p.experiment = e.id;
            p.variant = v.index;
            p.label = v.label;
            p.compression = e.compression;
            p.bitsPerWeight = sizes->bitsPerWeight(v.adapterParameters);
            p.predictedError = error / double(counted);
            if (const auto it = perplexities.find(v.label); it != perplexities.end())
                p.perplexity = it->second;
            out.points.push_back(std::move(p));
        }
    }
    // The front among the points that have the metric.
    std::vector<TradeoffPoint> plane;
    std::vector<size_t> index;
    for (size_t i = 0; i < out.points.size(); ++i) {
        const ExperimentPoint& p = out.points[i];
        if (byPerplexity && !p.perplexity)
            continue;
        plane.push_back({p.bitsPerWeight, byPerplexity ? *p.perplexity : p.predictedError});
        index.push_back(i);
    }
    for (const size_t k : paretoFront(plane))
        out.points[index[k]].front = true;
    return out;
}

} // namespace rs
