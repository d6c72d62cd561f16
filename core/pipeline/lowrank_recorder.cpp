#include "pipeline/lowrank_recorder.h"

#include "pipeline/recording.h"
#include "pipeline/session.h"
#include "store/distillations.h"
#include "store/experiment_store.h"
#include "util/error.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace rs {

namespace {

nlohmann::json rankJson(const LowRankRequest& request) {
    if (request.plan) {
        nlohmann::json layers = nlohmann::json::object();
        for (const auto& [name, rank] : request.plan->perLayer)
            layers[name] = rank;
        return {{"uniform", request.plan->uniform}, {"layers", layers}};
    }
    if (request.uniformRank > 0)
        return {{"ranks", {request.uniformRank}}};
    return {{"reductions", request.reductions}};
}

} // namespace

std::string lowRankRequestJson(const LowRankRequest& request) {
    return nlohmann::json{
        {"kind", "lowrank"},
        {"calib_text", request.calibText.string()},
        {"calib_tokens", request.calibTokens},
        {"calib_seq_len", request.calibSeqLen},
        {"method", request.method.serialize()},
        {"rank_plan", rankJson(request)},
        {"layers", {{"include", request.layers.include}, {"exclude", request.layers.exclude}}},
        {"eval_text", request.evalText.string()},
        {"eval", {{"seq_len", request.eval.seqLen}, {"max_windows", request.eval.maxWindows}}},
        {"evaluate_baseline", request.evaluateBaseline},
        {"analyze", request.analyze}}
        .dump();
}

std::string lowRankCommandLine(const std::string& requestJson, const std::string& modelPath) {
    const nlohmann::json j = nlohmann::json::parse(requestJson, nullptr, false);
    if (!j.is_object() || j.value("kind", "") != "lowrank")
        return {};
    std::string cmd = "rankscope-cli lowrank " + modelPath + " --calib " +
                      j.value("calib_text", "") + " --method " + j.value("method", "") +
                      " --calib-tokens " + std::to_string(j.value("calib_tokens", int64_t(0)));
    const nlohmann::json& ranks = j["rank_plan"];
    if (ranks.contains("reductions")) {
        std::string list;
        for (const auto& p : ranks["reductions"]) {
            char text[32];
            std::snprintf(text, sizeof text, "%g", p.get<double>());
            list += (list.empty() ? "" : ",") + std::string(text);
        }
        cmd += " --reduction " + list;
    } else if (ranks.contains("ranks")) {
        cmd += " --rank " + std::to_string(ranks["ranks"][0].get<int64_t>());
    }
    for (const auto& p : j["layers"]["include"])
        cmd += " --include '" + p.get<std::string>() + "'";
    for (const auto& p : j["layers"]["exclude"])
        cmd += " --exclude '" + p.get<std::string>() + "'";
    if (!j.value("eval_text", "").empty())
        cmd += " --eval " + j.value("eval_text", "");
    if (j["eval"].value("max_windows", int64_t(0)) > 0)
        cmd += " --max-windows " + std::to_string(j["eval"]["max_windows"].get<int64_t>());
    if (j.value("evaluate_baseline", false))
        cmd += " --baseline";
    if (!j.value("analyze", true))
        cmd += " --no-analysis";
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
    if (r.analysis) {
        out.curveSvd = r.analysis->curves.svd;
        out.curveEora = r.analysis->curves.eora;
        out.gramEigenvalues = r.analysis->spectra.gramEigenvalues;
        out.weightSingular = r.analysis->spectra.weightSingular;
        out.errorSingular = r.analysis->spectra.errorSingular;
        out.scaledErrorSingular = r.analysis->spectra.scaledErrorSingular;
    }
    return out;
}

RecordedLowRank runRecordedLowRank(ModelSession& session, const LowRankRequest& request,
                                   ExperimentStore& store, const std::string& name,
                                   const JobContext& job, const LowRankHooks& observers) {
    RecordedLowRank out;
    requireDenseModel(session, "low-rank factorization"); // before anything is recorded
    ExperimentRecord experiment;
    experiment.name = name;
    experiment.modelId = registerModel(store, session, job).id;
    experiment.calibDatasetId = registerText(store, session, request.calibText, job).id;
    if (!request.evalText.empty())
        experiment.evalDatasetId = registerText(store, session, request.evalText, job).id;
    // Lillama's student path runs through the layers already compressed.
    experiment.calibMode = request.method.id() == "lillama" ? "sequential" : "parallel";
    experiment.calibTokens = request.calibTokens;
    experiment.calibSeqLen = request.calibSeqLen;
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
