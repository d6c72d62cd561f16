#include "experimentloader.h"

#include "store/experiment_store.h"

#include <memory>
#include <stdexcept>

namespace rs::ui {

namespace {

std::unique_ptr<rs::ExperimentStore> openReadOnly(const std::filesystem::path& database) {
    rs::ExperimentStore::Options options;
    options.readOnly = true;
    return rs::ExperimentStore::open(database, options);
}

rs::ExperimentRecord requireExperiment(const rs::ExperimentStore& store,
                                       const std::filesystem::path& database, qint64 id) {
    auto record = store.experiment(id);
    if (!record)
        throw std::runtime_error(database.string() + ": no experiment " + std::to_string(id));
    return *record;
}

} // namespace

rs::ExperimentRecord storedExperiment(const std::filesystem::path& database, qint64 id) {
    const auto store = openReadOnly(database);
    return requireExperiment(*store, database, id);
}

std::vector<std::optional<rs::SpectralMetrics>>
weightMetricsOf(const std::vector<rs::LayerRecord>& layers) {
    std::vector<std::optional<rs::SpectralMetrics>> metrics(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
        if (layers[i].weightSingular.empty())
            continue;
        try {
            metrics[i] = rs::spectralMetrics(layers[i].weightSingular);
        } catch (const std::exception&) {
            // A corrupt spectrum (NaN) has no metrics: the views leave the layer out.
        }
    }
    return metrics;
}

LoadedExperiment loadExperiment(const std::filesystem::path& database, qint64 id) {
    const auto store = openReadOnly(database);
    const auto record = requireExperiment(*store, database, id);
    LoadedExperiment loaded;
    loaded.id = id;
    loaded.experiment = record;
    loaded.evaluations = store->evaluations(id);
    loaded.layers = store->layers(id);
    loaded.weightMetrics = weightMetricsOf(loaded.layers);
    loaded.variants = store->variants(id);
    try {
        loaded.curves = rs::loadStoredCurves(*store, id);
    } catch (const std::exception&) {
        // No curves (a run without analysis): there is nothing to plan.
    }
    loaded.distillations = rs::distillations(*store, id);
    loaded.lowRank = record.kind == rs::ExperimentKind::LowRank;
    if (const auto model = store->model(record.modelId))
        loaded.modelPath = model->path;
    return loaded;
}

} // namespace rs::ui
