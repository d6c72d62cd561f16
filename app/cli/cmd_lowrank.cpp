// lowrank: replace decoder linears by factor pairs (LoRD weight SVD or data-aware, Lillama),
// report ranks, parameters and errors per layer and perplexity per parameter reduction.
#include "commands.h"
#include "export/export_writer.h"
#include "export/leftovers.h"
#include "export/source_model.h"
#include "export/staging.h"
#include "export/verify_export.h"
#include "factorize/allocation.h"
#include "io/atomicfile.h"
#include "pipeline/lowrank_job.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/session.h"
#include "run_options.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/text.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

namespace rs::cli {

namespace {

std::string rankText(int64_t rank) {
    return rank == kDenseRank ? std::string("dense") : std::to_string(rank);
}

void printLayers(const LowRankResult& r) {
    std::printf("\n%-28s %9s", "layer", "shape");
    for (const LowRankVariant& v : r.variants)
        std::printf(" %24s", v.label.c_str());
    std::printf("\n%-28s %9s", "", "");
    for (size_t v = 0; v < r.variants.size(); ++v)
        std::printf(" %24s", "rank (red.%)   rel.err");
    std::printf("\n");
    for (const LowRankLayerReport& l : r.layers) {
        char shape[32];
        std::snprintf(shape, sizeof shape, "%lldx%lld", static_cast<long long>(l.outFeatures),
                      static_cast<long long>(l.inFeatures));
        std::printf("%-28s %9s", l.name.substr(std::string("model.").size()).c_str(), shape);
        for (size_t v = 0; v < r.variants.size(); ++v) {
            char cell[64];
            std::snprintf(cell, sizeof cell, "%5s (%3.0f%%) %10.5f", rankText(l.ranks[v]).c_str(),
                          l.rankReductionPercent(v), l.errorAfter[v]);
            std::printf(" %24s", cell);
        }
        std::printf("\n");
    }
    std::printf("(relative output error tr((W-BA) C (W-BA)^T) / tr(W C W^T) on %s calibration "
                "tokens; rank reduction = 1 - r / min(d_out, d_in))\n",
                formatCount(r.calibrationTokens).c_str());
}

void printDistillation(const LowRankResult& r) {
    for (const LowRankVariant& v : r.variants) {
        if (v.distillation.empty())
            continue;
        std::printf("\n%s distillation (loss on every calibration window, both paths):\n",
                    v.label.c_str());
        for (const LayerDistillation& d : v.distillation)
            std::printf("  layer %lld: %.5f at SVD init -> %.5f (step %lld), %.1f s\n",
                        static_cast<long long>(d.block), d.initialLoss, d.bestLoss,
                        static_cast<long long>(d.bestStep), d.seconds);
    }
}

void printSummary(const LowRankResult& r) {
    std::printf("\n%-22s %14s %14s %10s %12s\n", "variant", "params before", "params after",
                "reduction", "perplexity");
    if (r.baseline)
        std::printf("%-22s %14s %14s %10s %12.4f\n", "original", "", "", "",
                    r.baseline->perplexity);
    for (const LowRankVariant& v : r.variants) {
        std::printf("%-22s %14s %14s %9.2f%%", v.label.c_str(),
                    formatCount(v.parametersBefore).c_str(), formatCount(v.parametersAfter).c_str(),
                    v.reductionPercent());
        if (v.perplexity)
            std::printf(" %12.4f", v.perplexity->perplexity);
        std::printf("\n");
    }
    for (const LowRankVariant& v : r.variants)
        if (v.perplexity) {
            std::printf("(perplexity: %s, seq_len %lld, %s predicted tokens)\n",
                        v.perplexity->protocol.c_str(),
                        static_cast<long long>(v.perplexity->seqLen),
                        formatCount(v.perplexity->predictedTokens).c_str());
            break;
        }
}

nlohmann::json toJson(const LowRankResult& r, const LowRankRequest& request) {
    nlohmann::json variants = nlohmann::json::array();
    for (const LowRankVariant& v : r.variants) {
        nlohmann::json j = {{"label", v.label},
                            {"target_reduction", v.targetReduction},
                            {"parameters_before", v.parametersBefore},
                            {"parameters_after", v.parametersAfter},
                            {"reduction", v.reductionPercent()}};
        if (v.perplexity)
            j["perplexity"] = v.perplexity->perplexity;
        nlohmann::json losses = nlohmann::json::array();
        for (const LayerDistillation& d : v.distillation)
            losses.push_back({{"block", d.block},
                              {"initial", d.initialLoss},
                              {"best", d.bestLoss},
                              {"best_step", d.bestStep},
                              {"train", d.trainLoss}});
        if (!losses.empty())
            j["distillation"] = losses;
        variants.push_back(j);
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const LowRankLayerReport& l : r.layers)
        layers.push_back({{"name", l.name},
                          {"d_out", l.outFeatures},
                          {"d_in", l.inFeatures},
                          {"ranks", l.ranks},
                          {"relative_error", l.errorAfter}});
    nlohmann::json stages = nlohmann::json::object();
    for (const auto& [stage, seconds] : r.stageSeconds)
        stages[stage] = seconds;
    nlohmann::json out = {{"method", request.method.serialize()},
                          {"calibration_tokens", r.calibrationTokens},
                          {"variants", variants},
                          {"layers", layers},
                          {"stage_seconds", stages}};
    if (r.baseline)
        out["baseline_perplexity"] = r.baseline->perplexity;
    return out;
}

int runLowRankCommand(const ParsedArgs& args, const JobContext& job) {
    LowRankRequest request;
    request.inputs = readJobInputs(args, "lowrank");
    try {
        request.method =
            MethodConfig::parse(args.valueOr("--method", "lord-data"), MethodKind::LowRank);
        // Shortcuts for the parameters used most; they override the method's own.
        for (const auto& [option, key] : {std::pair<const char*, const char*>{"--steps", "steps"},
                                          {"--lr", "lr"},
                                          {"--batch", "batch"},
                                          {"--seed", "seed"},
                                          {"--allocation", "allocation"},
                                          {"--factor-bits", "factor_bits"}})
            if (const auto value = args.value(option)) {
                if (!request.method.spec().param(key))
                    throw UsageError(std::string(option) + " does not apply to " +
                                     request.method.id());
                request.method.set(key, *value);
            }
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
    if (args.value("--rank") && args.value("--reduction"))
        throw UsageError("give either --rank or --reduction");
    if (const auto rank = args.integer("--rank")) {
        if (*rank < 1)
            throw UsageError("--rank must be at least 1");
        request.uniformRank = *rank;
    }
    request.reductions = percentListArg(args.valueOr("--reduction", "20"), "--reduction");

    if (args.flag("--no-store") && (args.value("--db") || args.value("--name")))
        throw UsageError("--no-store cannot be combined with --db or --name");
    // Spread over several processes, rank 0 alone records, exports and writes --json.
    const bool leader = isWriter(job);
    std::unique_ptr<ExperimentStore> store;
    if (!args.flag("--no-store") && leader)
        store = ExperimentStore::open(databasePath(args));

    // A factorized export: every factored linear as its pair alone (no dense base), written
    // block by block as the job factors them, staged beside the target until it is complete.
    const auto exportDir = leader ? args.value("--export") : std::nullopt;
    std::optional<SourceModel> source;
    std::optional<StagedDirectory> stage;
    std::optional<ExportWriter> writer;
    LowRankHooks observers;
    if (exportDir) {
        if (request.reductions.size() > 1 && request.uniformRank == 0)
            throw UsageError("--export takes one variant: give a single --reduction");
        if (std::filesystem::exists(*exportDir) && !std::filesystem::is_empty(*exportDir))
            throw UsageError("--export: " + *exportDir + " exists and is not empty");
        source = readSourceModel(args.positional(0));
        ExportSettings settings;
        settings.source = &*source;
        // An empty directory, checked above.
        stage.emplace(*exportDir, /*replace=*/true, stagingRegistry());
        writer.emplace(stage->path(), ExportFormat::Factorized, settings, job);
        observers.factored = [&writer](size_t, const std::vector<FactoredLinear>& linears) {
            std::vector<ExportLinear> block;
            for (const FactoredLinear& f : linears)
                block.push_back(
                    {f.name, at::Tensor(), std::nullopt, {f.factors->B.cpu(), f.factors->A.cpu()}});
            writer->add(block);
        };
    }

    const auto session = ModelSession::open(args.positional(0), openOptions(args), job);
    LowRankResult result;
    std::string recorded;
    int64_t experiment = 0;
    if (store) {
        RecordedLowRank run = runRecordedLowRank(*session, request, *store,
                                                 args.valueOr("--name", ""), job, observers);
        experiment = run.experimentId;
        result = std::move(run.result);
        recorded = "recorded as experiment " + std::to_string(run.experimentId) + " in " +
                   store->path().string();
    } else {
        result = runLowRank(*session, request, job, observers);
    }
    if (exportDir) {
        const WrittenExport written = writer->finish();
        stage->commit();
        recorded += (recorded.empty() ? "" : "\n") + std::string("factorized export in ") +
                    *exportDir + " (" + formatBytes(written.linearBytes) +
                    " for the decoder linears)";
        if (store)
            store->addExport({0, experiment, 0,
                              std::filesystem::weakly_canonical(*exportDir).string(),
                              exportFormatName(ExportFormat::Factorized), "", ""});
        if (!request.inputs.evalText.empty()) {
            // Proof that the files hold the model that was measured.
            // Rank 0 alone holds the export: its read-back is not spread.
            const PerplexityResult back =
                evaluateExport(*exportDir, request.inputs.evalText, request.inputs.eval,
                               JobContext{job.progress, job.cancel, job.memory, nullptr});
            char line[96];
            std::snprintf(line, sizeof line, "\nthe export read back: perplexity %.4f",
                          back.perplexity);
            recorded += line;
        }
    }

    std::printf("%s on %s calibration tokens\n", request.method.serialize().c_str(),
                formatCount(result.calibrationTokens).c_str());
    printLayers(result);
    printDistillation(result);
    printSummary(result);
    std::printf("\nstages:");
    for (const auto& [stage, seconds] : result.stageSeconds)
        std::printf(" %s %.2f s", stage.c_str(), seconds);
    std::printf("\n");
    if (const auto json = args.value("--json"); json && leader)
        writeFileAtomically(*json, toJson(result, request).dump(2) + "\n");
    if (!recorded.empty())
        std::printf("%s\n", recorded.c_str());
    return kExitOk;
}

} // namespace

std::vector<Command> lowrankCommands() {
    return {
        {{"lowrank",
          "MODEL --calib FILE [--method lord-weight|lord-data|lillama] [--reduction P[,P...] | "
          "--rank N] [--eval FILE] [--steps N] [--lr X]",
          "Replace the decoder linears by rank-r factor pairs (two thin matmuls): LoRD by\n"
          "weight SVD (lord-weight) or by the activation-weighted optimum (lord-data), or\n"
          "Lillama (SVD, then local distillation of each decoder layer's output). Ranks come\n"
          "from a parameter reduction in percent (several give a sweep) or one uniform rank.\n"
          "Prints ranks, rank reduction and output error per layer, parameters before/after\n"
          "and, with --eval, the perplexity of every variant.",
          {"MODEL"},
          {kCalib,
           {"--method", "SPEC", "lord-weight, lord-data (default) or lillama, with parameters"},
           {"--reduction", "LIST", "parameter reductions in percent, e.g. 20,40 (default 20)"},
           {"--rank", "N", "one uniform rank instead of --reduction"},
           {"--allocation", "S", "uniform (default), bottom or top"},
           {"--steps", "N", "lillama: AdamW steps per decoder layer"},
           {"--lr", "X", "lillama: learning rate"},
           {"--batch", "N", "lillama: windows per step"},
           {"--seed", "N", "lillama: seed of the window order"},
           {"--factor-bits", "B", "lord: RTN-quantize the factors to 4 or 8 bits"},
           kCalibTokens,
           kInclude,
           kExclude,
           kEvalText,
           kMaxWindows,
           kBaseline,
           kNoAnalysis,
           {"--json", kOutputFile, "write the result as JSON"},
           {"--export", "DIR", "write the factored model in the factorized format (one variant)"},
           kDb,
           kNoStore,
           kName,
           kTokenizer,
           kDtype,
           kDevice,
           kMaxMemory}},
         runLowRankCommand},
    };
}

} // namespace rs::cli
