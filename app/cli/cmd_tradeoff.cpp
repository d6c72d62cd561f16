// tradeoff: bits x group x adapter budget, predicted error and size, Pareto front, and measured
// perplexity of chosen front points.
#include "budget_args.h"
#include "commands.h"
#include "io/atomicfile.h"
#include "pipeline/session.h"
#include "pipeline/tradeoff.h"
#include "run_options.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/text.h"

#include <cstdio>
#include <sstream>

namespace rs::cli {

namespace {

std::string csvOf(const TradeoffResult& r) {
    std::string out = "compression,bits,group,budget,adapter_params,percent_of_model,"
                      "bits_per_weight,predicted_error,front,perplexity,experiment\n";
    char line[512];
    for (const TradeoffRow& row : r.rows) {
        if (!row.skipped.empty())
            continue;
        std::snprintf(line, sizeof line, "\"%s\",%lld,%lld,%s,%lld,%.6f,%.6f,%.8g,%d,%s,%s\n",
                      row.compression.c_str(), static_cast<long long>(row.bits),
                      static_cast<long long>(row.group), row.budget.c_str(),
                      static_cast<long long>(row.adapterParameters), row.percentOfModel,
                      row.bitsPerWeight, row.predictedError, row.front ? 1 : 0,
                      row.perplexity ? std::to_string(*row.perplexity).c_str() : "",
                      row.experimentId ? std::to_string(row.experimentId).c_str() : "");
        out += line;
    }
    return out;
}

int runTradeoff(const ParsedArgs& args, const JobContext& job) {
    TradeoffRequest request;
    const auto calib = args.value("--calib");
    const auto eval = args.value("--eval");
    if (!calib || !eval)
        throw UsageError("'tradeoff' needs --calib FILE and --eval FILE");
    request.base.inputs.calibText = std::filesystem::weakly_canonical(*calib);
    request.base.inputs.evalText = std::filesystem::weakly_canonical(*eval);
    request.base.inputs.calibTokens = args.integer("--calib-tokens").value_or(16384);
    request.base.inputs.eval.maxWindows = positiveInteger(args, "--max-windows").value_or(0);
    request.base.inputs.layers.include = args.values("--include");
    request.method = args.valueOr("--method", "rtn");
    const auto sweepable = [](const MethodSpec& m) { return m.sweepsBitsAndGroups(); };
    if (const MethodSpec* m = findMethod(request.method, MethodKind::Compression);
        !m || !sweepable(*m))
        throw UsageError("--method must be one of " +
                         methodIds(MethodKind::Compression, sweepable));
    request.bits = integerListArg(args.valueOr("--bits", "2,3,4,8"), "--bits", 1);
    if (const auto groups = args.value("--groups"))
        request.groups = integerListArg(*groups, "--groups");
    try {
        request.budgets = parseBudgetList(args.valueOr("--budgets", "r2,r4,r8,r16"));
        request.compensation =
            MethodConfig::parse(args.valueOr("--comp", "eora"), MethodKind::Compensation);
        // Bits and groups are checked against the registry before any work starts.
        MethodConfig probe = MethodConfig::defaults(request.method, MethodKind::Compression);
        for (int64_t b : request.bits)
            probe.set("bits", std::to_string(b));
        for (int64_t g : request.groups)
            probe.set("group", std::to_string(g));
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    request.weighting = parseWeights(args, "energy");
    if (request.weighting == LayerWeighting::Sensitivity)
        throw UsageError("tradeoff plans with energy or equal weights");
    request.constraints = parseConstraints(args);
    request.evaluate = args.integer("--evaluate").value_or(8);
    if (request.evaluate < 0)
        throw UsageError("--evaluate must not be negative");

    std::unique_ptr<ExperimentStore> store = ExperimentStore::open(databasePath(args));
    const auto session = ModelSession::open(args.positional(0), openOptions(args), job);
    ArtefactCache cache(defaultCacheDirectory());
    const TradeoffResult result = runTradeoff(*session, request, *store, cache, job);

    std::printf("trade-off of %s x adapter budget, %s compensation, plans with %s layer weights\n",
                request.method.c_str(), request.compensation.id().c_str(),
                weightingName(request.weighting));
    std::printf("predicted error: %s (calibration); size: bits per weight of the compressed "
                "layers incl. quantization overhead and fp16 adapters\n\n",
                objectiveName(request.weighting));
    std::printf("%-5s %6s %8s %10s %8s %8s %14s %5s %10s %6s\n", "bits", "group", "budget",
                "params", "% model", "bpw", "pred. error", "front", "perplexity", "exp");
    for (const TradeoffRow& row : result.rows) {
        if (!row.skipped.empty()) {
            std::printf("%-5lld %6lld %8s   skipped: %s\n", static_cast<long long>(row.bits),
                        static_cast<long long>(row.group), row.budget.c_str(), row.skipped.c_str());
            continue;
        }
        std::printf("%-5lld %6lld %8s %10s %8.3f %8.4f %14.6g %5s %10s %6s\n",
                    static_cast<long long>(row.bits), static_cast<long long>(row.group),
                    row.budget.c_str(), formatCount(row.adapterParameters).c_str(),
                    row.percentOfModel, row.bitsPerWeight, row.predictedError, row.front ? "*" : "",
                    row.perplexity ? std::to_string(*row.perplexity).substr(0, 8).c_str() : "",
                    row.experimentId ? std::to_string(row.experimentId).c_str() : "");
    }
    if (result.protocol.predictedTokens > 0)
        std::printf("\nperplexity: %s, seq_len %lld, %s predicted tokens\n",
                    result.protocol.protocol.c_str(),
                    static_cast<long long>(result.protocol.seqLen),
                    formatCount(result.protocol.predictedTokens).c_str());
    if (result.spearman)
        std::printf("Spearman correlation of predicted error and measured perplexity over the "
                    "evaluated points: %.3f\n",
                    *result.spearman);
    else
        std::printf("Spearman correlation: needs at least 3 evaluated points\n");
    if (const auto csv = args.value("--csv"))
        writeFileAtomically(*csv, csvOf(result));
    return kExitOk;
}

} // namespace

Command tradeoffCommand() {
    std::vector<OptionSpec> options = {
        {"--calib", "FILE", "calibration text"},
        {"--eval", "FILE", "evaluation text for the front points"},
        {"--method", "ID", "rtn (default) or gptq"},
        {"--bits", "LIST", "bit widths (default 2,3,4,8)"},
        {"--groups", "LIST", "group sizes (default: all the registry offers, -1 per row)"},
        {"--budgets", "LIST",
         "adapter budgets: PARAMS, P%, Bbpw or rR (as uniform rank R); default r2,r4,r8,r16"},
        {"--comp", "METHOD", "compensation (eora default, or svd)"},
        {"--evaluate", "N", "front points to evaluate with real perplexity (default 8)"},
        {"--calib-tokens", "N", "calibration token budget (default 16384)"},
        kMaxWindows,
        kInclude,
        {"--csv", kOutputFile, "write the table as CSV"}};
    for (const OptionSpec& o : constraintOptions())
        if (o.name != "--exclude")
            options.push_back(o);
    for (const OptionSpec& o : {kDb, kTokenizer, kDtype, kDevice, kMaxMemory})
        options.push_back(o);
    return {
        {"tradeoff",
         "MODEL --calib FILE --eval FILE [--bits 2,3,4] [--budgets r4,r8,3.5bpw] [--csv OUT_FILE]",
         "Explore bits x group size x adapter budget: predict each configuration's error\n"
         "and size from its error curves with a budget-optimal plan, print the Pareto front,\n"
         "evaluate chosen front points with real perplexity (recorded as experiments) and\n"
         "report how well the prediction ranks them (Spearman).",
         {"MODEL"},
         options},
        runTradeoff};
}

} // namespace rs::cli
