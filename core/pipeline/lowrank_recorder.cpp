#include "pipeline/lowrank_recorder.h"

#include "pipeline/job_inputs.h"
#include "pipeline/recording.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/distillations.h"
#include "store/experiment_store.h"
#include "util/error.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace rs {

namespace {

nlohmann::json rankJson(const LowRankRequest& request) {
    if (request.plan)
        return rankPlanToJson(*request.plan);
    if (request.uniformRank > 0)
        return {{"ranks", {request.uniformRank}}};
    return {{"reductions", request.reductions}};
}

} // namespace

std::string lowRankRequestJson(const LowRankRequest& request) {
    nlohmann::json out = jobInputsJson(request.inputs);
    out.update({{"kind", experimentKindName(ExperimentKind::LowRank)},
                {"method", request.method.serialize()},
                {"rank_plan", rankJson(request)}});
    return out.dump();
}

LowRankRequest lowRankRequestFromJson(const std::string& json, const std::string& what) {
    LowRankRequest request;
    try {
        const nlohmann::json j = nlohmann::json::parse(json);
        request.inputs = jobInputsFromJson(j, what);
        request.method =
            MethodConfig::parse(j.at("method").get<std::string>(), MethodKind::LowRank);
        const nlohmann::json& ranks = j.at("rank_plan");
        if (ranks.contains("layers"))
            request.plan = rankPlanFromJson(ranks);
        else if (ranks.contains("ranks"))
            request.uniformRank = ranks.at("ranks").at(0).get<int64_t>();
        else
            request.reductions = ranks.at("reductions").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
        fail(what, std::string("low-rank request is malformed: ") + e.what());
    }
    return request;
}

std::string lowRankCommandLine(const LowRankRequest& r, const std::string& modelPath) {
    std::string cmd = "rankscope-cli lowrank " + modelPath + jobInputsOptions(r.inputs) +
                      " --method " + r.method.serialize();
    if (r.uniformRank > 0) {
        cmd += " --rank " + std::to_string(r.uniformRank);
    } else if (!r.plan) {
        std::string list;
        for (const double p : r.reductions) {
            char text[32];
            std::snprintf(text, sizeof text, "%g", p);
            list += (list.empty() ? "" : ",") + std::string(text);
        }
        cmd += " --reduction " + list;
    }
    return cmd;
}

VariantRecord toVariantRecord(const LowRankVariant& variant, int index, const std::string& method) {
    return {index, method, variant.uniformRank > 0 ? variant.uniformRank : -1, variant.label,
            variant.parametersAfter};
}

LayerRecord toLayerRecord(const LowRankLayerReport& r) {
    LayerRecord out;
    out.name = r.name;
    out.block = r.block;
    out.kind = r.kind;
    out.outFeatures = r.outFeatures;
    out.inFeatures = r.inFeatures;
    out.outputEnergy = r.outputEnergy;
    out.errorEnergy = r.outputEnergy;
    out.ranks = r.ranks;
    out.errorAfter = r.errorAfter;
    if (r.analysis)
        storeAnalysis(*r.analysis, out);
    return out;
}

RecordedLowRank runRecordedLowRank(ModelSession& session, const LowRankRequest& request,
                                   ExperimentStore& store, const std::string& name,
                                   const JobContext& job, const LowRankHooks& observers) {
    RecordedLowRank out;
    // Checked before anything is recorded: a model or a layer pattern that cannot be used is a
    // mistake in the call, not a failed experiment.
    requireDenseModel(session, "low-rank factorization");
    requireFeasibleRanks(session, request);
    ExperimentRecord experiment;
    experiment.name = name;
    experiment.modelId = registerModel(store, session, job).id;
    experiment.modelFiles = recordModelFiles(session, job);
    experiment.kind = ExperimentKind::LowRank;
    experiment.calibDatasetId = registerText(store, session, request.inputs.calibText, job).id;
    if (!request.inputs.evalText.empty())
        experiment.evalDatasetId = registerText(store, session, request.inputs.evalText, job).id;
    // Lillama's student path runs through the layers already compressed.
    experiment.calibMode = request.method.spec().traits.distills ? "sequential" : "parallel";
    experiment.calibTokens = request.inputs.calibTokens;
    experiment.calibSeqLen = request.inputs.calibSeqLen;
    experiment.compression = request.method.serialize();
    experiment.rankPlan = rankJson(request).dump();
    experiment.request = lowRankRequestJson(request);
    const int64_t id = store.beginExperiment(experiment);
    out.experimentId = id;

    LowRankHooks hooks;
    hooks.distilled = [&](size_t variant, const LayerDistillation& d) {
        DistillationRecord r{
            static_cast<int>(variant), d.block, d.trainLoss, {}, {}, d.bestStep, d.seconds};
        for (const auto& [step, loss] : d.evalLoss) {
            r.evalSteps.push_back(step);
            r.evalLoss.push_back(loss);
        }
        addDistillation(store, id, r);
        if (observers.distilled)
            observers.distilled(variant, d);
    };
    hooks.factored = observers.factored;
    hooks.planned = [&](const LowRankResult& result) {
        std::vector<VariantRecord> variants;
        for (size_t v = 0; v < result.variants.size(); ++v)
            variants.push_back(
                toVariantRecord(result.variants[v], static_cast<int>(v), experiment.compression));
        store.addVariants(id, variants);
    };
    hooks.layersDone = [&](const LowRankResult& result) {
        std::vector<LayerRecord> layers;
        for (const LowRankLayerReport& r : result.layers)
            layers.push_back(toLayerRecord(r));
        store.addLayers(id, layers);
    };
    hooks.evaluated = [&](std::optional<size_t> variant, const PerplexityResult& p) {
        store.addEvaluation(id, evaluationRecord(variant, experiment.evalDatasetId, p));
    };
    recordOutcome(store, id, out.result.stageSeconds,
                  [&] { out.result = runLowRank(session, request, job, hooks); });
    return out;
}

} // namespace rs
