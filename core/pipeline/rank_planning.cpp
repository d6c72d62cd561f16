#include "pipeline/rank_planning.h"

#include "budget/resolve.h"
#include "store/experiment_store.h"
#include "util/argument_error.h"

namespace rs {

namespace {

// The experiment's own compensation: the first that fits factors other than the plain-SVD
// baseline the workbench runs beside it (and records before it); plain SVD when that is all the
// run has; empty when it has none.
std::string primaryCompensation(const std::vector<std::string>& compensations) {
    std::string baseline;
    for (const std::string& c : compensations) {
        const MethodSpec& spec = MethodConfig::parse(c, MethodKind::Compensation).spec();
        if (!spec.fitsFactors())
            continue;
        if (&spec != &plainSvdCompensation())
            return c;
        if (baseline.empty())
            baseline = c;
    }
    return baseline;
}

} // namespace

StoredCurves loadStoredCurves(const ExperimentStore& store, int64_t id,
                              const std::optional<std::string>& compensation) {
    const std::string what = "experiment " + std::to_string(id);
    StoredCurves out;
    const auto experiment = store.experiment(id);
    if (!experiment)
        failArgument(store.path().string(), "no " + what);
    // A cancelled or failed run stored the layers of the blocks it finished only: a plan over
    // them would leave the rest uncompensated.
    if (experiment->status != ExperimentStatus::Done)
        fail(what, std::string("has not finished (") + statusName(experiment->status) +
                       "); plan with a finished experiment");
    out.experiment = *experiment;
    const auto model = store.model(experiment->modelId);
    if (!model)
        fail(what, "its model record is missing");
    out.model = *model;
    out.compression = MethodConfig::parse(experiment->compression, MethodKind::Compression);
    std::string comp = compensation.value_or("");
    if (comp.empty())
        comp = primaryCompensation(experiment->compensations);
    out.compensation = MethodConfig::parse(comp.empty() ? "eora" : comp, MethodKind::Compensation);
    requirePlannableCompensation(out.compensation, what);
    out.layers = store.layers(id);
    if (out.layers.empty())
        fail(what, "has no layers (status " + std::string(statusName(experiment->status)) + ")");
    for (const LayerRecord& l : out.layers)
        if (l.curveEora.empty() || l.curveSvd.empty())
            fail(what, "has no error curves for " + l.name +
                           " (it was run without analysis; run compress without --no-analysis)");
    return out;
}

namespace {

bool hasCurve(const MethodSpec& method) {
    return method.traits.curve != ErrorCurve::None;
}

} // namespace

void requirePlannableCompensation(const MethodConfig& compensation, const std::string& what) {
    if (!hasCurve(compensation.spec()))
        fail(what, "error curves are stored for " + methodIds(MethodKind::Compensation, hasCurve) +
                       " only, not for " + compensation.id());
}

const std::vector<double>& storedCurve(const LayerRecord& layer, const MethodConfig& compensation) {
    switch (compensation.spec().traits.curve) {
    case ErrorCurve::Svd:
        return layer.curveSvd;
    case ErrorCurve::Eora:
        return layer.curveEora;
    case ErrorCurve::None:
        break;
    }
    fail(layer.name, "no stored error curve predicts " + compensation.id());
}

std::vector<PlanLayer> planLayers(const std::vector<LayerRecord>& layers,
                                  const MethodConfig& compensation, LayerWeighting weighting,
                                  const std::vector<double>& sensitivity) {
    std::vector<std::string> names;
    std::vector<double> output, error;
    for (const LayerRecord& l : layers) {
        names.push_back(l.name);
        output.push_back(l.outputEnergy);
        error.push_back(l.errorEnergy);
    }
    const std::vector<double> weights = layerWeights(weighting, names, output, error, sensitivity);
    std::vector<PlanLayer> out;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerRecord& l = layers[i];
        out.push_back(
            {l.name, l.outFeatures, l.inFeatures, storedCurve(l, compensation), weights[i]});
    }
    return out;
}

SizeModel sizeModelOf(int64_t modelParameters, const std::vector<LayerRecord>& layers,
                      const MethodConfig& compression) {
    std::vector<SizeModel::Shape> shapes;
    for (const LayerRecord& l : layers)
        shapes.push_back({l.outFeatures, l.inFeatures});
    return SizeModel(modelParameters, shapes, weightFormatOf(compression));
}

RankPlan toRankPlan(const RankPlanner& planner, const Plan& plan) {
    RankPlan out;
    for (size_t l = 0; l < planner.layers().size(); ++l)
        out.perLayer[planner.layers()[l].name] = plan.ranks[l];
    return out;
}

} // namespace rs
