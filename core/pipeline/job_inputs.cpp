#include "pipeline/job_inputs.h"

#include "util/error.h"

#include <nlohmann/json.hpp>

namespace rs {

using nlohmann::json;

json jobInputsJson(const JobInputs& inputs) {
    json eval = {{"seq_len", inputs.eval.seqLen}, {"max_windows", inputs.eval.maxWindows}};
    if (inputs.eval.protocol)
        eval["protocol"] = protocolName(*inputs.eval.protocol);
    return {
        {"calib_text", inputs.calibText.string()},
        {"calib_tokens", inputs.calibTokens},
        {"calib_seq_len", inputs.calibSeqLen},
        {"layers", {{"include", inputs.layers.include}, {"exclude", inputs.layers.exclude}}},
        {"eval_text", inputs.evalText.string()},
        {"eval", eval},
        {"evaluate_baseline", inputs.evaluateBaseline},
        {"analyze", inputs.analyze},
    };
}

JobInputs jobInputsFromJson(const json& request, const std::string& what) {
    JobInputs inputs;
    inputs.calibText = request.at("calib_text").get<std::string>();
    inputs.calibTokens = request.at("calib_tokens").get<int64_t>();
    inputs.calibSeqLen = request.at("calib_seq_len").get<int64_t>();
    inputs.layers.include = request.at("layers").at("include").get<std::vector<std::string>>();
    inputs.layers.exclude = request.at("layers").at("exclude").get<std::vector<std::string>>();
    inputs.evalText = request.at("eval_text").get<std::string>();
    const json& eval = request.at("eval");
    inputs.eval.seqLen = eval.at("seq_len").get<int64_t>();
    inputs.eval.maxWindows = eval.at("max_windows").get<int64_t>();
    if (eval.contains("protocol")) {
        const std::string name = eval.at("protocol").get<std::string>();
        inputs.eval.protocol = parseProtocol(name);
        if (!inputs.eval.protocol)
            fail(what, "unknown evaluation protocol '" + name + "'");
    }
    inputs.evaluateBaseline = request.at("evaluate_baseline").get<bool>();
    inputs.analyze = request.at("analyze").get<bool>();
    return inputs;
}

std::string jobInputsOptions(const JobInputs& inputs) {
    std::string out = " --calib " + inputs.calibText.string() + " --calib-tokens " +
                      std::to_string(inputs.calibTokens);
    for (const std::string& p : inputs.layers.include)
        out += " --include '" + p + "'";
    for (const std::string& p : inputs.layers.exclude)
        out += " --exclude '" + p + "'";
    if (!inputs.evalText.empty())
        out += " --eval " + inputs.evalText.string();
    if (inputs.eval.maxWindows > 0)
        out += " --max-windows " + std::to_string(inputs.eval.maxWindows);
    if (inputs.evaluateBaseline)
        out += " --baseline";
    if (!inputs.analyze)
        out += " --no-analysis";
    return out;
}

} // namespace rs
