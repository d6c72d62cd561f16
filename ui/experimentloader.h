#pragma once

#include "compensate/spectral_metrics.h"
#include "pipeline/rank_planning.h"
#include "store/distillations.h"
#include "store/records.h"

#include <QtGlobal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rs::ui {

// An experiment read from the store, ready to be shown. Read on a worker thread after a run, so
// that the GUI thread only fills the views.
struct LoadedExperiment {
    qint64 id = 0;
    rs::ExperimentRecord experiment;
    std::vector<rs::EvaluationRecord> evaluations; // perplexities of the original and variants
    std::vector<rs::LayerRecord> layers;
    // Per layer: its weight's spectral metrics, computed once here (off the GUI thread after a
    // run) for the layer table and the Layer Metrics view; nullopt without a stored spectrum.
    std::vector<std::optional<rs::SpectralMetrics>> weightMetrics;
    std::vector<rs::VariantRecord> variants;
    std::optional<rs::StoredCurves> curves;            // absent for a run without analysis
    std::vector<rs::DistillationRecord> distillations; // Lillama runs: per variant and block
    std::string modelPath;
    bool lowRank = false; // a LoRD/Lillama run: the curves are weight SVD and data-aware
};

// The spectral metrics of each layer's weight; nullopt for a layer without a stored spectrum or
// with a corrupt one (NaN), which the views then leave out.
std::vector<std::optional<rs::SpectralMetrics>>
weightMetricsOf(const std::vector<rs::LayerRecord>& layers);

// Reads experiment `id` through a read-only connection; throws naming the database when the
// experiment does not exist or the store cannot be read.
LoadedExperiment loadExperiment(const std::filesystem::path& database, qint64 id);

// Experiment `id`'s row (its kind and stored request), read the same way.
rs::ExperimentRecord storedExperiment(const std::filesystem::path& database, qint64 id);

} // namespace rs::ui
