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

std::optional<LowRankRequest> lowRankRequestFromJson(const std::string& json,
                                                     const std::string& what) {
    const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_object() || j.value("kind", "") != "lowrank")
        return std::nullopt;
    LowRankRequest request;
    try {
        request.calibText = j.at("calib_text").get<std::string>();
        request.calibTokens = j.at("calib_tokens").get<int64_t>();
        request.calibSeqLen = j.at("calib_seq_len").get<int64_t>();
        request.method =
            MethodConfig::parse(j.at("method").get<std::string>(), MethodKind::LowRank);
        const nlohmann::json& ranks = j.at("rank_plan");
        if (ranks.contains("layers")) {
            RankPlan plan;
            plan.uniform = ranks.at("uniform").get<int64_t>();
            for (const auto& [name, rank] : ranks.at("layers").items())
                plan.perLayer[name] = rank.get<int64_t>();
            request.plan = plan;
        } else if (ranks.contains("ranks")) {
            request.uniformRank = ranks.at("ranks").at(0).get<int64_t>();
        } else {
            request.reductions = ranks.at("reductions").get<std::vector<double>>();
        }
        request.layers.include = j.at("layers").at("include").get<std::vector<std::string>>();
        request.layers.exclude = j.at("layers").at("exclude").get<std::vector<std::string>>();
        request.evalText = j.at("eval_text").get<std::string>();
        request.eval.seqLen = j.at("eval").at("seq_len").get<int64_t>();
        request.eval.maxWindows = j.at("eval").at("max_windows").get<int64_t>();
        request.evaluateBaseline = j.at("evaluate_baseline").get<bool>();
        request.analyze = j.at("analyze").get<bool>();
    } catch (const nlohmann::json::exception& e) {
        fail(what, std::string("low-rank request is malformed: ") + e.what());
    }
    return request;
}

std::string lowRankCommandLine(const std::string& requestJson, const std::string& modelPath) {
    const std::optional<LowRankRequest> r = lowRankRequestFromJson(requestJson, "request");
    if (!r)
        return {};
    std::string cmd = "rankscope-cli lowrank " + modelPath + " --calib " + r->calibText.string() +
                      " --method " + r->method.serialize() + " --calib-tokens " +
                      std::to_string(r->calibTokens);
    if (r->uniformRank > 0) {
        cmd += " --rank " + std::to_string(r->uniformRank);
    } else if (!r->plan) {
        std::string list;
        for (const double p : r->reductions) {
            char text[32];
            std::snprintf(text, sizeof text, "%g", p);
            list += (list.empty() ? "" : ",") + std::string(text);
        }
        cmd += " --reduction " + list;
    }
    for (const std::string& p : r->layers.include)
        cmd += " --include '" + p + "'";
    for (const std::string& p : r->layers.exclude)
        cmd += " --exclude '" + p + "'";
    if (!r->evalText.empty())
        cmd += " --eval " + r->evalText.string();
    if (r->eval.maxWindows > 0)
        cmd += " --max-windows " + std::to_string(r->eval.maxWindows);
    if (r->evaluateBaseline)
        cmd += " --baseline";
    if (!r->analyze)
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
    if (r.analysis)
        storeAnalysis(*r.analysis, out);
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
