#include "pipeline/job_inputs.h"

#include "io/checkpoint.h"
#include "pipeline/session.h"
#include "util/argument_error.h"
#include "util/error.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>

namespace rs {

using nlohmann::json;

namespace {

std::vector<std::regex> compilePatterns(const std::vector<std::string>& patterns) {
    std::vector<std::regex> out;
    for (const std::string& p : patterns) {
        try {
            out.emplace_back(p);
        } catch (const std::regex_error& e) {
            failArgument("layer pattern '" + p + "'",
                         std::string("invalid regular expression: ") + e.what());
        }
    }
    return out;
}

bool anyMatches(const std::vector<std::regex>& patterns, const std::string& name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::regex& r) { return std::regex_search(name, r); });
}

} // namespace

std::vector<SelectedLinear> selectLinears(const Checkpoint& checkpoint,
                                          const LayerSelection& selection) {
    const std::vector<std::regex> include = compilePatterns(selection.include);
    const std::vector<std::regex> exclude = compilePatterns(selection.exclude);
    std::vector<SelectedLinear> out;
    for (int64_t block = 0; block < checkpoint.config.numLayers; ++block)
        for (LinearKind kind : kAllLinearKinds) {
            const std::string name = linearName(block, kind);
            if ((include.empty() || anyMatches(include, name)) && !anyMatches(exclude, name)) {
                const at::Tensor& weight = checkpoint.require(name + ".weight");
                out.push_back({block, kind, name, weight.size(0), weight.size(1)});
            }
        }
    if (out.empty())
        failArgument("layer selection",
                     "no decoder linear layer matches the include/exclude patterns");
    return out;
}

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

TokenStream tokenStream(const ModelSession& session, const std::filesystem::path& path,
                        int64_t maxTokens, const JobContext& job) {
    const Protocol protocol = detectProtocolOfFile(path, job);
    return readTokenStream(path, protocol, session.tokenizer(), {.maxTokens = maxTokens}, job);
}

TokenStream evaluationStream(const ModelSession& session, const JobInputs& inputs,
                             const JobContext& job) {
    std::error_code unreadable; // a missing file is named when it is read
    if (!inputs.calibText.empty() &&
        std::filesystem::equivalent(inputs.calibText, inputs.evalText, unreadable))
        job.report("warning", 0, 0,
                   "the evaluation text " + inputs.evalText.string() +
                       " is the calibration text: its perplexity shows how well the model fits "
                       "what it was calibrated on, not how it does on unseen text");
    const Protocol protocol =
        inputs.eval.protocol ? *inputs.eval.protocol : detectProtocolOfFile(inputs.evalText, job);
    const int64_t needed = evaluationTokens(session.model(), protocol, inputs.eval);
    return readTokenStream(inputs.evalText, protocol, session.tokenizer(), {.maxTokens = needed},
                           job);
}

} // namespace rs
