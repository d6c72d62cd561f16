// info, generate, eval: the commands that open a model and run it as it is.
#include "commands.h"
#include "dist/communicator.h"
#include "io/atomicfile.h"
#include "pipeline/distributed.h"
#include "pipeline/session.h"
#include "run_options.h"
#include "util/error.h"
#include "util/lists.h"
#include "util/memory.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace rs::cli {

namespace {

int runInfo(const ParsedArgs& args, const JobContext& job) {
    // The text summary has a warning row of its own; the same line on stderr would say it twice.
    JobContext opening = job;
    if (!args.flag("--json"))
        opening.progress = [&job](const ProgressEvent& e) {
            if (e.stage != "warning" && job.progress)
                job.progress(e);
        };
    const auto session = ModelSession::open(args.positional(0), openOptions(args), opening);
    if (args.flag("--json")) {
        const ModelSummary& s = session->summary();
        nlohmann::json layers = nlohmann::json::array();
        for (const LinearLayerInfo& l : s.linears)
            layers.push_back({{"name", l.name},
                              {"d_out", l.outFeatures},
                              {"d_in", l.inFeatures},
                              {"bias", l.hasBias},
                              {"parameters", l.parameters}});
        nlohmann::json out = {{"source", s.source},
                              {"format", s.format},
                              {"architecture", s.config.modelType},
                              {"dtype", s.storedDtype},
                              {"hidden_size", s.config.hiddenSize},
                              {"intermediate_size", s.config.intermediateSize},
                              {"num_hidden_layers", s.config.numLayers},
                              {"num_attention_heads", s.config.numHeads},
                              {"num_key_value_heads", s.config.numKvHeads},
                              {"head_dim", s.config.headDim},
                              {"vocab_size", s.config.vocabSize},
                              {"max_position_embeddings", s.config.maxPositions},
                              {"parameters", s.totalParameters},
                              {"unused_tensors", s.unusedTensors},
                              {"linear_parameters", s.linearParameters},
                              {"linear_layers", layers}};
        if (const auto& e = session->exportSummary()) {
            out["export"] = {{"format", exportFormatName(e->format)},
                             {"description", describeExport(*e)},
                             {"manifest", e->manifest},
                             {"low_rank_layers", e->lowRankLayers},
                             {"rank", e->rank},
                             {"min_rank", e->minRank},
                             {"max_rank", e->maxRank},
                             {"factor_only_layers", e->factorOnlyLayers}};
            if (e->bits > 0)
                out["export"]["gptq"] = {{"bits", e->bits},
                                         {"group_size", e->groupSize},
                                         {"desc_act", e->descAct},
                                         {"quantized_layers", e->quantizedLayers},
                                         {"dense_layers", e->denseLayers}};
        }
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    // What an export holds goes under the header, before the layer table.
    const std::string header = formatSummary(session->summary(), false);
    std::cout << header;
    if (const auto& e = session->exportSummary())
        std::cout << "export        " << describeExport(*e) << "\n";
    std::cout << formatSummary(session->summary()).substr(header.size());
    std::cout << "\ntokenizer     " << session->tokenizerDescription() << "\n";
    return kExitOk;
}

int runGenerate(const ParsedArgs& args, const JobContext& job) {
    GenerateRequest request;
    request.prompt = args.valueOr("--prompt", "");
    request.maxTokens = args.integer("--max-tokens").value_or(256);
    if (request.maxTokens < 1)
        throw UsageError("--max-tokens must be at least 1");
    const auto session = ModelSession::open(args.positional(0), openOptions(args), job);
    std::cout << request.prompt;
    generateText(
        *session, request,
        [](const std::string& piece) {
            std::cout << piece;
            std::cout.flush();
        },
        job.cancel);
    std::cout << "\n";
    return kExitOk;
}

int runEval(const ParsedArgs& args, const JobContext& job) {
    const auto text = args.value("--text");
    if (!text)
        throw UsageError("'eval' needs --text FILE");
    EvalOptions options;
    if (const auto protocol = args.value("--protocol")) {
        options.protocol = parseProtocol(*protocol);
        if (!options.protocol)
            throw UsageError("--protocol must be tinystories or wikitext, got '" + *protocol + "'");
    }
    // 0 stands for "not given" (the protocol's or the memory's choice) and is not a value to type.
    options.seqLen = positiveInteger(args, "--seq-len").value_or(0);
    options.maxWindows = positiveInteger(args, "--max-windows").value_or(0);
    options.batchSize = positiveInteger(args, "--batch").value_or(0);

    const auto session = ModelSession::open(args.positional(0), openOptions(args), job);
    requireSameInputs(job, *session, {*text},
                      std::to_string(options.seqLen) + " " + std::to_string(options.maxWindows) +
                          " " + args.valueOr("--protocol", "detected"));
    const PerplexityResult r = evaluateTextFile(*session, *text, options, job);
    std::cout << formatResult(r) << "\n";
    if (const auto jsonPath = args.value("--json"); jsonPath && isWriter(job)) {
        const nlohmann::json out = {{"model", args.positional(0)},
                                    {"text", *text},
                                    {"protocol", r.protocol},
                                    {"perplexity", r.perplexity},
                                    {"mean_nll", r.meanNll},
                                    {"predicted_tokens", r.predictedTokens},
                                    {"windows", r.windows},
                                    {"seq_len", r.seqLen},
                                    {"stream_tokens", r.streamTokens},
                                    {"seconds", r.seconds},
                                    {"dtype", session->computeDtype()},
                                    {"device", session->deviceName()}};
        writeFileAtomically(*jsonPath, out.dump(2) + "\n");
    }
    return kExitOk;
}

} // namespace

const OptionSpec kDtype{"--dtype", "TYPE", "weights dtype: float32 (default), bfloat16, float16"};
const OptionSpec kDevice{"--device", "DEV", "cpu (default), cuda, cuda:N or auto"};
const OptionSpec kTokenizer{"--tokenizer", "FILE",
                            "tokenizer file, for a model file with none beside it"};
const OptionSpec kMaxMemory{"--max-memory", "SIZE",
                            "memory for carried states and cached blocks, e.g. 2G (default: half "
                            "of RAM); beyond it hidden states spill to the cache directory"};

int64_t maxMemory(const ParsedArgs& args) {
    const std::optional<std::string> text = args.value("--max-memory");
    if (!text)
        return 0;
    try {
        return parseByteSize(*text, "--max-memory");
    } catch (const rs::Error& e) {
        throw UsageError(e.what());
    }
}

OpenOptions openOptions(const ParsedArgs& args) {
    OpenOptions options;
    options.dtype = args.valueOr("--dtype", "float32");
    if (options.dtype != "float32" && options.dtype != "bfloat16" && options.dtype != "float16")
        throw UsageError("--dtype must be float32, bfloat16 or float16, got '" + options.dtype +
                         "'");
    options.device = args.valueOr("--device", "cpu");
    options.tokenizer = args.valueOr("--tokenizer", "");
    options.maxMemory = maxMemory(args);
    return options;
}

std::vector<Command> modelCommands() {
    return {
        {{"info",
          "MODEL [--json]",
          "Print a model's architecture, dimensions, parameter count and every linear layer.\n"
          "MODEL is a Hugging Face directory (config.json + safetensors), a llama2.c .bin, or an\n"
          "export directory (gptq+peft, merged, factorized), opened with its low-rank paths.",
          {"MODEL"},
          {{"--json", "", "print the summary as JSON"}, kDtype, kDevice, kTokenizer, kMaxMemory}},
         runInfo},
        {{"generate",
          "MODEL [--tokenizer FILE] [--prompt TEXT] [--max-tokens N]",
          "Greedy (temperature 0) generation with a KV cache, starting from BOS and the prompt.\n"
          "Stops at BOS/EOS or after N new tokens.",
          {"MODEL"},
          {{"--prompt", "TEXT", "text to continue (default: none, start from BOS)"},
           {"--max-tokens", "N", "new tokens to generate (default 256)"},
           kTokenizer,
           kDtype,
           kDevice,
           kMaxMemory}},
         runGenerate},
        {{"eval",
          "MODEL --text FILE [--protocol tinystories|wikitext] [--seq-len N] "
          "[--max-windows N] [--json OUT_FILE]",
          "Perplexity on a text file with a pinned protocol. tinystories: stories split on\n"
          "<|endoftext|> lines, [BOS]+story concatenated, 512-token windows. wikitext: lines\n"
          "joined with \"\\n\\n\", one BOS, non-overlapping seq_len windows. The default protocol\n"
          "is tinystories when the text holds <|endoftext|> lines, else wikitext; seq_len\n"
          "defaults to 512 (tinystories) or the model context capped at 2048 (wikitext).",
          {"MODEL"},
          {{"--text", "FILE", "the evaluation text (UTF-8)"},
           {"--protocol", "NAME", "tinystories or wikitext (default: detected)"},
           {"--seq-len", "N", "window length in tokens"},
           kMaxWindows,
           {"--batch", "N", "windows per forward pass (default: from memory)"},
           {"--json", kOutputFile, "also write the result as JSON"},
           kTokenizer,
           kDtype,
           kDevice,
           kMaxMemory}},
         runEval},
    };
}

std::vector<int64_t> integerListArg(const std::string& text, const std::string& option,
                                    int64_t min) {
    try {
        return parseIntegerList(text, option, min);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

std::vector<double> percentListArg(const std::string& text, const std::string& option) {
    try {
        return parsePercentList(text, option);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

bool isWriter(const JobContext& job) {
    return !job.group || job.group->leader();
}

std::vector<Command> allCommands() {
    std::vector<Command> all = modelCommands();
    for (Command& c : compressCommands())
        all.push_back(std::move(c));
    for (Command& c : lowrankCommands())
        all.push_back(std::move(c));
    for (Command& c : storeCommands())
        all.push_back(std::move(c));
    for (Command& c : exportCommands())
        all.push_back(std::move(c));
    for (Command& c : budgetCommands())
        all.push_back(std::move(c));
    for (Command& c : all) {
        const auto& options = c.spec.options;
        const bool hasForce = std::any_of(options.begin(), options.end(),
                                          [](const OptionSpec& o) { return o.name == "--force"; });
        const bool writes =
            std::any_of(options.begin(), options.end(),
                        [](const OptionSpec& o) { return o.valueName == kOutputFile; }) ||
            std::count(c.spec.positionals.begin(), c.spec.positionals.end(), kOutputFile) > 0;
        if (writes && !hasForce)
            c.spec.options.push_back({"--force", "", "replace output files that already exist"});
    }
    return all;
}

} // namespace rs::cli
