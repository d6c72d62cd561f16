#include "pipeline/request_json.h"

#include "util/error.h"

#include <nlohmann/json.hpp>

namespace rs {

namespace {

using nlohmann::json;

json planJson(const CompressRequest& request) {
    if (!request.plan)
        return {{"ranks", request.ranks}};
    return rankPlanToJson(*request.plan);
}

} // namespace

json rankPlanToJson(const RankPlan& plan) {
    json layers = json::object();
    for (const auto& [name, rank] : plan.perLayer)
        layers[name] = rank;
    return {{"uniform", plan.uniform}, {"layers", layers}};
}

RankPlan rankPlanFromJson(const json& j) {
    RankPlan plan;
    plan.uniform = j.at("uniform").get<int64_t>();
    for (const auto& [name, rank] : j.at("layers").items())
        plan.perLayer[name] = rank.get<int64_t>();
    return plan;
}

std::string requestToJson(const CompressRequest& request) {
    json compensations = json::array();
    for (const MethodConfig& m : request.compensations)
        compensations.push_back(m.serialize());
    json out = jobInputsJson(request.inputs);
    out.update({
        {"calib_mode", calibrationModeName(request.mode)},
        {"compression", request.compression.serialize()},
        {"compensations", compensations},
        {"rank_plan", planJson(request)},
        {"heldout_tokens", request.heldoutTokens},
    });
    return out.dump();
}

CompressRequest compressRequestOf(const ExperimentRecord& experiment) {
    const std::string what = "experiment " + std::to_string(experiment.id);
    if (experiment.kind != ExperimentKind::Compress)
        fail(what, "is a low-rank (LoRD/Lillama) run, not a compression");
    return requestFromJson(experiment.request, what);
}

std::string rankPlanJson(const CompressRequest& request) {
    return planJson(request).dump();
}

CompressRequest requestFromJson(const std::string& text, const std::string& what) {
    CompressRequest request;
    try {
        const json j = json::parse(text);
        request.inputs = jobInputsFromJson(j, what);
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
            request.plan = rankPlanFromJson(plan);
        }
        request.heldoutTokens = j.at("heldout_tokens").get<int64_t>();
    } catch (const json::exception& e) {
        fail(what, std::string("malformed request JSON: ") + e.what());
    }
    return request;
}

} // namespace rs
