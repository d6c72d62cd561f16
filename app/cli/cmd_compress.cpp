// compress: calibrate, compress, compensate at several ranks, report per-layer errors and
// perplexity. methods: list the method registry.
#include "commands.h"
#include "io/atomicfile.h"
#include "pipeline/compress_job.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/session.h"
#include "run_options.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rs::cli {

namespace {

// Splits "none,svd:factor_bits=4,eora" into method specs: a piece with '=' but no ':' continues
// the previous spec's parameters ("rtn:bits=3,group=32" stays whole).
std::vector<std::string> splitSpecs(const std::string& text) {
    std::vector<std::string> specs;
    std::stringstream in(text);
    std::string piece;
    while (std::getline(in, piece, ',')) {
        if (piece.empty())
            continue;
        if (!specs.empty() && piece.find('=') != std::string::npos &&
            piece.find(':') == std::string::npos)
            specs.back() += "," + piece;
        else
            specs.push_back(piece);
    }
    return specs;
}

MethodConfig parseMethod(const std::string& spec, MethodKind kind) {
    try {
        return MethodConfig::parse(spec, kind);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

void printLayerTable(const CompressResult& r) {
    std::printf("\n%-32s %11s %5s %9s", "layer", "d_out x d_in", "disc", "none");
    for (const Variant& v : r.variants)
        if (v.compensation.spec().fitsFactors())
            std::printf(" %11s", v.label().c_str());
    std::printf("   (relative output error on %lld calibration tokens)\n",
                static_cast<long long>(r.calibrationTokens));
    for (const LayerReport& l : r.layers) {
        char shape[32];
        std::snprintf(shape, sizeof shape, "%lldx%lld", static_cast<long long>(l.outFeatures),
                      static_cast<long long>(l.inFeatures));
        std::printf("%-32s %11s %5lld %9.5f", l.name.substr(std::string("model.").size()).c_str(),
                    shape, static_cast<long long>(l.discardedModes), l.relativeErrorBefore());
        for (size_t v = 0; v < r.variants.size(); ++v)
            if (r.variants[v].compensation.spec().fitsFactors())
                std::printf(" %11.5f", l.errorAfter[v]);
        std::printf("\n");
    }
    if (r.heldoutTokens > 0) {
        // Held-out means over layers: the quick check that the fit generalises.
        std::printf("%-32s %11s %5s %9.5f", "mean on held-out activations", "", "", [&] {
            double sum = 0;
            for (const LayerReport& l : r.layers)
                sum += l.heldoutRelativeErrorBefore();
            return sum / static_cast<double>(r.layers.size());
        }());
        for (size_t v = 0; v < r.variants.size(); ++v)
            if (r.variants[v].compensation.spec().fitsFactors()) {
                double sum = 0;
                for (const LayerReport& l : r.layers)
                    sum += l.heldoutErrorAfter[v];
                std::printf(" %11.5f", sum / static_cast<double>(r.layers.size()));
            }
        std::printf("   (%lld held-out tokens)\n", static_cast<long long>(r.heldoutTokens));
    }
}

void printPerplexityTable(const CompressResult& r) {
    if (r.variants.empty() || !r.variants.front().perplexity)
        return;
    const PerplexityResult& first = *r.variants.front().perplexity;
    std::printf("\nperplexity (%s, seq_len %lld, %s predicted tokens)\n", first.protocol.c_str(),
                static_cast<long long>(first.seqLen), formatCount(first.predictedTokens).c_str());
    if (r.baseline)
        std::printf("  %-22s %10.4f\n", "original", r.baseline->perplexity);
    for (const Variant& v : r.variants)
        std::printf("  %-22s %10.4f   adapter %s params\n", v.label().c_str(),
                    v.perplexity->perplexity, formatCount(v.adapterParameters).c_str());
}

nlohmann::json toJson(const CompressResult& r, const CompressRequest& request) {
    nlohmann::json variants = nlohmann::json::array();
    for (const Variant& v : r.variants) {
        nlohmann::json j = {{"label", v.label()},
                            {"compensation", v.compensation.serialize()},
                            {"rank", v.rank},
                            {"adapter_parameters", v.adapterParameters}};
        if (v.perplexity)
            j["perplexity"] = {{"protocol", v.perplexity->protocol},
                               {"perplexity", v.perplexity->perplexity},
                               {"predicted_tokens", v.perplexity->predictedTokens},
                               {"windows", v.perplexity->windows},
                               {"seq_len", v.perplexity->seqLen},
                               {"seconds", v.perplexity->seconds}};
        variants.push_back(j);
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerReport& l : r.layers)
        layers.push_back({{"name", l.name},
                          {"d_out", l.outFeatures},
                          {"d_in", l.inFeatures},
                          {"sparsity", l.sparsity},
                          {"discarded_modes", l.discardedModes},
                          {"relative_error_before", l.relativeErrorBefore()},
                          {"relative_error_after", l.errorAfter},
                          {"heldout_relative_error_before", l.heldoutRelativeErrorBefore()},
                          {"heldout_relative_error_after", l.heldoutErrorAfter},
                          {"ranks", l.ranks}});
    nlohmann::json stages = nlohmann::json::object();
    for (const auto& [stage, seconds] : r.stageSeconds)
        stages[stage] = seconds;
    nlohmann::json out = {{"compression", request.compression.serialize()},
                          {"calibration_mode", calibrationModeName(request.mode)},
                          {"calibration_tokens", r.calibrationTokens},
                          {"heldout_tokens", r.heldoutTokens},
                          {"variants", variants},
                          {"layers", layers},
                          {"stage_seconds", stages}};
    if (r.baseline)
        out["baseline_perplexity"] = r.baseline->perplexity;
    return out;
}

int runCompress(const ParsedArgs& args, const JobContext& job) {
    CompressRequest request;
    request.inputs = readJobInputs(args, "compress");
    request.compression = parseMethod(args.valueOr("--method", "rtn"), MethodKind::Compression);
    request.compensations.clear();
    for (const std::string& list : args.values("--comp"))
        for (const std::string& spec : splitSpecs(list)) {
            MethodConfig method = parseMethod(spec, MethodKind::Compensation);
            if (std::find(request.compensations.begin(), request.compensations.end(), method) !=
                request.compensations.end())
                throw UsageError("--comp: '" + spec + "' is given twice");
            request.compensations.push_back(std::move(method));
        }
    if (request.compensations.empty())
        request.compensations.push_back(parseMethod("eora", MethodKind::Compensation));
    if (args.value("--rank") && args.value("--ranks"))
        throw UsageError("give either --rank or --ranks");
    request.ranks = integerListArg(args.value("--ranks").value_or(args.valueOr("--rank", "8")),
                                   args.value("--ranks") ? "--ranks" : "--rank", 1);
    const std::string mode = args.valueOr("--calib-mode", "parallel");
    if (mode != "parallel" && mode != "sequential")
        throw UsageError("--calib-mode must be parallel or sequential");
    request.mode = mode == "parallel" ? CalibrationMode::Parallel : CalibrationMode::Sequential;

    if (args.flag("--no-store") && (args.value("--db") || args.value("--name") ||
                                    args.value("--notes") || args.flag("--recalibrate")))
        throw UsageError("--no-store cannot be combined with --db, --name, --notes or "
                         "--recalibrate");
    // The store is opened before the model so that a bad database fails fast.
    std::unique_ptr<ExperimentStore> store;
    if (!args.flag("--no-store") && isWriter(job))
        store = ExperimentStore::open(databasePath(args));

    const auto session = ModelSession::open(args.positional(0), openOptions(args), job);
    CompressResult result;
    std::string recorded;
    if (store) {
        ArtefactCache cache(defaultCacheDirectory());
        RecordOptions options;
        options.name = args.valueOr("--name", "");
        options.notes = args.valueOr("--notes", "");
        options.reuseStatistics = !args.flag("--recalibrate");
        options.saveStatistics = !args.flag("--no-cache");
        RecordedCompression run =
            runRecordedCompression(*session, request, *store, cache, options, job);
        result = std::move(run.result);
        recorded = "recorded as experiment " + std::to_string(run.experimentId) + " in " +
                   store->path().string();
        if (run.calibrationReused)
            recorded += "\ncalibration statistics reused from " + cache.directory().string() +
                        " (no calibration forward passes)";
        if (!run.statisticsNote.empty())
            recorded += "\n" + run.statisticsNote;
    } else {
        result = runCompression(*session, request, job);
    }

    std::printf("compression %s, calibration %s on %s tokens\n",
                request.compression.serialize().c_str(), calibrationModeName(request.mode),
                formatCount(result.calibrationTokens).c_str());
    printLayerTable(result);
    printPerplexityTable(result);
    std::printf("\nstages:");
    for (const auto& [stage, seconds] : result.stageSeconds)
        std::printf(" %s %.2f s", stage.c_str(), seconds);
    std::printf("\n");
    if (const auto json = args.value("--json"); json && isWriter(job))
        writeFileAtomically(*json, toJson(result, request).dump(2) + "\n");
    if (!recorded.empty())
        std::printf("%s\n", recorded.c_str());
    return kExitOk;
}

int runMethods(const ParsedArgs&, const JobContext&) {
    for (MethodKind kind :
         {MethodKind::Compression, MethodKind::Compensation, MethodKind::LowRank}) {
        std::printf("%s methods:\n", methodKindName(kind));
        for (const MethodSpec* m : methodsOfKind(kind)) {
            std::printf("  %-10s %s: %s\n", m->id.c_str(), m->name.c_str(), m->description.c_str());
            for (const ParamSpec& p : m->params) {
                std::string allowed;
                for (const std::string& c : p.choices)
                    allowed += (allowed.empty() ? "" : "|") + c;
                std::printf("      %-12s default %-6s %s%s\n", p.key.c_str(),
                            p.defaultValue.c_str(), p.help.c_str(),
                            allowed.empty() ? "" : (" (" + allowed + ")").c_str());
            }
        }
        std::printf("\n");
    }
    std::printf("syntax: ID or ID:key=value,key=value (e.g. rtn:bits=3,group=32)\n");
    return kExitOk;
}

} // namespace

std::vector<Command> compressCommands() {
    return {
        {{"compress",
          "MODEL --calib FILE [--method SPEC] [--comp LIST] [--rank N | --ranks LIST] "
          "[--eval FILE] [--json OUT_FILE]",
          "Calibrate on a text, compress the decoder linears (--method), compensate the error\n"
          "with each method of --comp at each rank, and print the per-layer errors and, with\n"
          "--eval, the perplexity of every variant. Calibration statistics and decompositions\n"
          "are computed once per layer and reused for every variant. The run is recorded in\n"
          "the experiment store; statistics of the original model are cached, so a second\n"
          "run with the same model, text and calibration settings skips calibration.\n"
          "Started by torchrun, srun or with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and\n"
          "MASTER_PORT set, the processes share the work and rank 0 records it (README).\n"
          "`rankscope-cli methods` lists the methods.",
          {"MODEL"},
          {kCalib,
           {"--method", "SPEC", "compression method, e.g. rtn:bits=3,group=32 (default rtn)"},
           {"--comp", "LIST", "compensations, e.g. none,svd,eora (default eora; repeatable)"},
           {"--rank", "N", "rank of the low-rank paths (default 8)"},
           {"--ranks", "LIST", "several ranks, e.g. 4,8,16"},
           kCalibTokens,
           {"--calib-mode", "MODE", "parallel (default) or sequential"},
           kInclude,
           kExclude,
           kEvalText,
           kMaxWindows,
           kBaseline,
           kNoAnalysis,
           {"--json", kOutputFile, "write the whole result as JSON"},
           kDb,
           kNoStore,
           kName,
           {"--notes", "TEXT", "notes kept with the recorded experiment"},
           {"--recalibrate", "", "calibrate even when saved statistics match"},
           {"--no-cache", "", "do not save calibration statistics in the cache"},
           kTokenizer,
           kDtype,
           kDevice,
           kMaxMemory}},
         runCompress},
        {{"methods",
          "",
          "List the compression and compensation methods and their parameters.",
          {},
          {}},
         runMethods},
    };
}

} // namespace rs::cli
