#include "pipeline/request_json.h"

#include "util/error.h"

#include <nlohmann/json.hpp>

namespace rs {

namespace {

using nlohmann::json;

json planJson(const CompressRequest& request) {
    if (!request.plan)
        return {{"ranks", request.ranks}};
    json layers = json::object();
    for (const auto& [name, rank] : request.plan->perLayer)
        layers[name] = rank;
    return {{"uniform", request.plan->uniform}, {"layers", layers}};
}

} // namespace

std::string requestToJson(const CompressRequest& request) {
    json compensations = json::array();
    for (const MethodConfig& m : request.compensations)
        compensations.push_back(m.serialize());
    json eval = {{"seq_len", request.eval.seqLen}, {"max_windows", request.eval.maxWindows}};
    if (request.eval.protocol)
        eval["protocol"] = protocolName(*request.eval.protocol);
    const json out = {
        {"calib_text", request.calibText.string()},
        {"calib_tokens", request.calibTokens},
        {"calib_seq_len", request.calibSeqLen},
        {"calib_mode", calibrationModeName(request.mode)},
        {"compression", request.compression.serialize()},
        {"compensations", compensations},
        {"rank_plan", planJson(request)},
        {"layers", {{"include", request.layers.include}, {"exclude", request.layers.exclude}}},
        {"eval_text", request.evalText.string()},
        {"eval", eval},
        {"heldout_tokens", request.heldoutTokens},
        {"analyze", request.analyze},
        {"evaluate_baseline", request.evaluateBaseline},
    };
    return out.dump();
}

std::string rankPlanJson(const CompressRequest& request) {
    return planJson(request).dump();
}

CompressRequest requestFromJson(const std::string& text, const std::string& what) {
    CompressRequest request;
    try {
        const json j = json::parse(text);
        request.calibText = j.at("calib_text").get<std::string>();
        request.calibTokens = j.at("calib_tokens").get<int64_t>();
        request.calibSeqLen = j.at("calib_seq_len").get<int64_t>();
        const std::string mode = j.at("calib_mode").get<std::string>();
        if (mode != "parallel" && mode != "sequential")
            fail(what, "unknown calibration mode '" + mode + "'");
        request.mode = mode == "parallel" ? CalibrationMode::Parallel : CalibrationMode::Sequential;
        request.compression =
            MethodConfig::parse(j.at("compression").get<std::string>(), MethodKind::Compression);
        for (const json& m : j.at("compensations"))
            request.compensations.push_back(
                MethodConfig::parse(m.get<std::string>(), MethodKind::Compensation));
        const json& plan = j.at("rank_plan");
        if (plan.contains("ranks")) {
            request.ranks = plan.at("ranks").get<std::vector<int64_t>>();
        } else {
            RankPlan p;
            p.uniform = plan.at("uniform").get<int64_t>();
            for (const auto& [name, rank] : plan.at("layers").items())
                p.perLayer[name] = rank.get<int64_t>();
            request.plan = p;
        }
        request.layers.include = j.at("layers").at("include").get<std::vector<std::string>>();
        request.layers.exclude = j.at("layers").at("exclude").get<std::vector<std::string>>();
        request.evalText = j.at("eval_text").get<std::string>();
        const json& eval = j.at("eval");
        request.eval.seqLen = eval.at("seq_len").get<int64_t>();
        request.eval.maxWindows = eval.at("max_windows").get<int64_t>();
        if (eval.contains("protocol")) {
            const std::string name = eval.at("protocol").get<std::string>();
            request.eval.protocol = parseProtocol(name);
            if (!request.eval.protocol)
                fail(what, "unknown evaluation protocol '" + name + "'");
        }
        request.heldoutTokens = j.at("heldout_tokens").get<int64_t>();
        request.analyze = j.at("analyze").get<bool>();
        request.evaluateBaseline = j.at("evaluate_baseline").get<bool>();
    } catch (const json::exception& e) {
        fail(what, std::string("malformed request JSON: ") + e.what());
    }
    return request;
}

} // namespace rs
