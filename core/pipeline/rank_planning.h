#pragma once

#include "budget/planner.h"
#include "budget/units.h"
#include "budget/weights.h"
#include "methods/registry.h"
#include "pipeline/compress_job.h"
#include "store/records.h"

#include <optional>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// A stored experiment's per-layer curves, ready for planning.
struct StoredCurves {
    ExperimentRecord experiment;
    ModelRecord model;
    MethodConfig compression;
    MethodConfig compensation; // the method whose curve is planned with (one with a curve)
    std::vector<LayerRecord> layers;
};

// Loads an experiment for planning. The compensation is `compensation` when given, else the
// experiment's first one other than none, else eora. Fails for an unknown experiment, one
// without layers or curves (run without analysis), or a compensation without a stored curve.
StoredCurves loadStoredCurves(const ExperimentStore& store, int64_t experiment,
                              const std::optional<std::string>& compensation = std::nullopt);

// The stored curve of `layer` that predicts `compensation`'s error at every rank (the curve of
// its traits). Fails for a compensation without a curve.
const std::vector<double>& storedCurve(const LayerRecord& layer, const MethodConfig& compensation);
// Fails unless `compensation` has a stored curve to plan with; `what` names the request.
void requirePlannableCompensation(const MethodConfig& compensation, const std::string& what);

// The planner's layers: the stored curve of `compensation` (E(0) = tr(dW C dW^T)) per layer,
// weighted. sensitivity: perplexity increases per layer, only for that weighting.
std::vector<PlanLayer> planLayers(const std::vector<LayerRecord>& layers,
                                  const MethodConfig& compensation, LayerWeighting weighting,
                                  const std::vector<double>& sensitivity = {});

// Sizes of the compressed layers stored with their compression (units: see SizeModel).
SizeModel sizeModelOf(int64_t modelParameters, const std::vector<LayerRecord>& layers,
                      const MethodConfig& compression);

// A plan as the compression pipeline takes it (every layer's rank by name).
RankPlan toRankPlan(const RankPlanner& planner, const Plan& plan);

} // namespace rs
