// experiments list/show/delete/export-csv/analyze and cache list/prune: the experiment
// store from the command line.
#include "commands.h"
#include "export/leftovers.h"
#include "io/atomicfile.h"
#include "pipeline/experiment_compare.h"
#include "pipeline/layer_analysis.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/argument_error.h"
#include "util/text.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

namespace rs::cli {

namespace {

using nlohmann::json;

} // namespace

std::unique_ptr<ExperimentStore> openRecordedStore(const ParsedArgs& args) {
    const std::filesystem::path path = databasePath(args);
    std::error_code error;
    if (!std::filesystem::exists(path, error))
        fail(path.string(), "no experiment store here (nothing recorded yet, or a mistyped --db "
                            "or $RANKSCOPE_DB)");
    // When it is writable it opens read-write, which marks interrupted runs.
    const bool writable =
        ::access(path.c_str(), W_OK) == 0 &&
        ::access(path.parent_path().empty() ? "." : path.parent_path().c_str(), W_OK) == 0;
    ExperimentStore::Options options;
    options.readOnly = !writable;
    return ExperimentStore::open(path, options);
}

int64_t experimentId(const std::string& text) {
    try {
        size_t used = 0;
        const long long id = std::stoll(text, &used);
        if (used == text.size() && id > 0)
            return id;
    } catch (const std::exception&) {
    }
    throw UsageError("an experiment ID is a positive integer, got '" + text + "'");
}

namespace {

ExperimentRecord requireExperiment(const ExperimentStore& store, int64_t id) {
    auto e = store.experiment(id);
    if (!e)
        failArgument(store.path().string(), "no experiment " + std::to_string(id));
    return *e;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (const std::string& p : parts)
        out += (out.empty() ? "" : separator) + p;
    return out;
}

std::string fileName(const std::string& path) {
    const std::filesystem::path p(path);
    return p.filename().empty() ? path : p.filename().string();
}

std::string stagesText(const std::vector<std::pair<std::string, double>>& stages) {
    std::string out;
    char buffer[64];
    for (const auto& [stage, seconds] : stages) {
        std::snprintf(buffer, sizeof buffer, "%s%s %.2f s", out.empty() ? "" : ", ", stage.c_str(),
                      seconds);
        out += buffer;
    }
    return out.empty() ? "-" : out;
}

// The command line that runs the experiment again.
std::string rerunCommand(const ExperimentStore& store, const ExperimentRecord& e) {
    const auto model = store.model(e.modelId);
    const std::string modelPath = model ? model->path : std::string("MODEL");
    if (e.kind == ExperimentKind::LowRank)
        return lowRankCommandLine(
            lowRankRequestFromJson(e.request, "experiment " + std::to_string(e.id)), modelPath);
    const CompressRequest r = compressRequestOf(e);
    std::string cmd = "rankscope-cli compress " + modelPath + jobInputsOptions(r.inputs) +
                      " --method " + r.compression.serialize();
    std::vector<std::string> comps;
    for (const MethodConfig& m : r.compensations)
        comps.push_back(m.serialize());
    if (!comps.empty())
        cmd += " --comp " + join(comps, ",");
    if (!r.plan) {
        std::vector<std::string> ranks;
        for (int64_t rank : r.ranks)
            ranks.push_back(std::to_string(rank));
        cmd += " --ranks " + join(ranks, ",");
    }
    return cmd + " --calib-mode " + calibrationModeName(r.mode);
}

json summaryJson(const ExperimentSummary& s) {
    const ExperimentRecord& e = s.experiment;
    json j = {{"id", e.id},
              {"name", e.name},
              {"kind", experimentKindName(e.kind)},
              {"status", statusName(e.status)},
              {"created", e.created},
              {"model", s.modelPath},
              {"calibration", s.calibPath},
              {"calibration_mode", e.calibMode},
              {"compression", e.compression},
              {"compensations", e.compensations},
              {"rank_plan", json::parse(e.rankPlan.empty() ? "null" : e.rankPlan)},
              {"layers", s.layerCount}};
    j["best_perplexity"] = s.bestPerplexity ? json(*s.bestPerplexity) : json(nullptr);
    return j;
}

int runList(const ParsedArgs& args, const JobContext&) {
    const auto store = openRecordedStore(args);
    ExperimentFilter filter;
    filter.model = args.valueOr("--model", "");
    if (const auto status = args.value("--status")) {
        filter.status = parseStatus(*status);
        if (!filter.status)
            throw UsageError("unknown status '" + *status +
                             "' (running, done, failed, cancelled, interrupted)");
    }
    if (const auto kind = args.value("--kind")) {
        filter.kind = parseExperimentKind(*kind);
        if (!filter.kind)
            throw UsageError("unknown kind '" + *kind + "' (compress, lowrank)");
    }
    filter.limit = positiveInteger(args, "--limit").value_or(0);
    const std::vector<ExperimentSummary> list = store->listExperiments(filter);
    if (args.flag("--json")) {
        json out = json::array();
        for (const ExperimentSummary& s : list)
            out.push_back(summaryJson(s));
        std::printf("%s\n", out.dump(2).c_str());
        return kExitOk;
    }
    if (list.empty()) {
        std::printf("no experiments in %s\n", store->path().string().c_str());
        return kExitOk;
    }
    std::printf("%5s  %-20s  %-11s  %-8s  %-18s  %-32s  %-16s  %10s  %s\n", "ID", "created",
                "status", "kind", "model", "compression", "compensation", "best ppl", "name");
    for (const ExperimentSummary& s : list) {
        const ExperimentRecord& e = s.experiment;
        char ppl[32] = "-";
        if (s.bestPerplexity)
            std::snprintf(ppl, sizeof ppl, "%.4f", *s.bestPerplexity);
        std::vector<std::string> ids; // "svd:factor_bits=0" -> "svd": the ids fit a column
        for (const std::string& c : e.compensations)
            ids.push_back(c.substr(0, c.find(':')));
        std::printf("%5lld  %-20s  %-11s  %-8s  %-18s  %-32s  %-16s  %10s  %s\n",
                    static_cast<long long>(e.id), e.created.c_str(), statusName(e.status),
                    experimentKindName(e.kind), fileName(s.modelPath).substr(0, 18).c_str(),
                    e.compression.substr(0, 32).c_str(), join(ids, ",").substr(0, 16).c_str(), ppl,
                    e.name.c_str());
    }
    return kExitOk;
}

int runShow(const ParsedArgs& args, const JobContext&) {
    const int64_t id = experimentId(args.positional(0)); // a usage error before any file
    const auto store = openRecordedStore(args);
    const ExperimentRecord e = requireExperiment(*store, id);
    const auto model = store->model(e.modelId);
    const auto calib = e.calibDatasetId ? store->dataset(*e.calibDatasetId) : std::nullopt;
    const auto eval = e.evalDatasetId ? store->dataset(*e.evalDatasetId) : std::nullopt;
    const std::vector<VariantRecord> variants = store->variants(e.id);
    const std::vector<LayerRecord> layers = store->layers(e.id, false);
    const auto ppl = experimentPerplexities(*store, e.id);
    if (args.flag("--json")) {
        json j = json::parse(e.request);
        j["id"] = e.id;
        j["kind"] = experimentKindName(e.kind);
        j["status"] = statusName(e.status);
        j["perplexity"] = ppl;
        j["mean_relative_error"] = experimentMeanErrors(*store, e.id);
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    std::printf("experiment %lld%s%s\n", static_cast<long long>(e.id), e.name.empty() ? "" : ": ",
                e.name.c_str());
    std::printf("  kind         %s\n", experimentKindName(e.kind));
    std::printf("  status       %s%s%s\n", statusName(e.status), e.error.empty() ? "" : ": ",
                e.error.c_str());
    std::printf("  created      %s (finished %s), RankScope %s\n", e.created.c_str(),
                e.finished.empty() ? "-" : e.finished.c_str(), e.version.c_str());
    if (model)
        std::printf("  model        %s (%s, %lld layers, %s params, sha256 %.12s)\n",
                    model->path.c_str(), model->architecture.c_str(),
                    static_cast<long long>(model->layers), formatCount(model->parameters).c_str(),
                    model->contentHash.c_str());
    if (calib)
        std::printf("  calibration  %s, %s mode, %s tokens, seq_len %lld (text %s, %s tokens)%s\n",
                    calib->path.c_str(), e.calibMode.c_str(),
                    e.calibTokens > 0 ? formatCount(e.calibTokens).c_str() : "all",
                    static_cast<long long>(e.calibSeqLen), calib->protocol.c_str(),
                    formatCount(calib->tokens).c_str(),
                    e.calibrationReused ? ", statistics reused" : "");
    if (eval)
        std::printf("  evaluation   %s (%s)\n", eval->path.c_str(), eval->protocol.c_str());
    std::printf("  compression  %s\n", e.compression.c_str());
    std::printf("  compensation %s, ranks %s\n", join(e.compensations, ", ").c_str(),
                e.rankPlan.c_str());
    std::printf("  stages       %s\n", stagesText(e.stageSeconds).c_str());
    if (!e.notes.empty())
        std::printf("  notes        %s\n", e.notes.c_str());
    if (!ppl.empty() || !variants.empty()) {
        std::printf("\n  %-22s %12s %12s %14s\n", "variant", "perplexity", "mean error",
                    "adapter params");
        const auto errors = experimentMeanErrors(*store, e.id);
        if (ppl.count("original"))
            std::printf("  %-22s %12.4f\n", "original", ppl.at("original"));
        for (const VariantRecord& v : variants) {
            char p[32] = "-", err[32] = "-";
            if (ppl.count(v.label))
                std::snprintf(p, sizeof p, "%.4f", ppl.at(v.label));
            if (errors.count(v.label))
                std::snprintf(err, sizeof err, "%.5f", errors.at(v.label));
            std::printf("  %-22s %12s %12s %14s\n", v.label.c_str(), p, err,
                        formatCount(v.adapterParameters).c_str());
        }
    }
    if (!layers.empty()) {
        std::printf("\n  %-30s %11s %5s %9s", "layer", "d_out x d_in", "disc", "before");
        for (const VariantRecord& v : variants)
            std::printf(" %11s", v.label.c_str());
        std::printf("\n");
        for (const LayerRecord& l : layers) {
            const std::string shape =
                std::to_string(l.outFeatures) + "x" + std::to_string(l.inFeatures);
            std::printf("  %-30s %11s %5lld %9.5f", l.name.c_str(), shape.c_str(),
                        static_cast<long long>(l.discardedModes),
                        l.outputEnergy > 0 ? l.errorEnergy / l.outputEnergy : 0.0);
            for (size_t v = 0; v < variants.size(); ++v)
                std::printf(" %11.5f", v < l.errorAfter.size() ? l.errorAfter[v] : 0.0);
            std::printf("\n");
        }
    }
    std::printf("\n  re-run: %s\n", rerunCommand(*store, e).c_str());
    return kExitOk;
}

int runDelete(const ParsedArgs& args, const JobContext&) {
    const auto store = openRecordedStore(args);
    const int64_t id = experimentId(args.positional(0));
    if (!store->deleteExperiment(id))
        failArgument(store->path().string(), "no experiment " + std::to_string(id));
    std::printf("deleted experiment %lld (its cached statistics stay until `cache prune`)\n",
                static_cast<long long>(id));
    return kExitOk;
}

int runAnalyze(const ParsedArgs& args, const JobContext& job) {
    const auto store = openRecordedStore(args);
    const ExperimentRecord e = requireExperiment(*store, experimentId(args.positional(0)));
    const auto model = store->model(e.modelId);
    if (!model)
        fail("experiment " + std::to_string(e.id), "its model is not recorded");
    const auto session = ModelSession::open(model->path, openOptions(args), job);
    const ArtefactCache cache(defaultCacheDirectory());
    const std::string pattern = args.value("--layer").value_or(".");
    const std::vector<std::string> done =
        analyzeRecordedLayers(*session, *store, cache, e.id, pattern, job);
    if (done.empty())
        std::printf("every layer matching '%s' has its analysis already\n", pattern.c_str());
    for (const std::string& name : done)
        std::printf("analysed %s\n", name.c_str());
    return kExitOk;
}

std::string csvField(const std::string& text) {
    if (text.find_first_of(",\"\n") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

int runExportCsv(const ParsedArgs& args, const JobContext&) {
    const int64_t id = experimentId(args.positional(0));
    const auto store = openRecordedStore(args);
    const ExperimentRecord e = requireExperiment(*store, id);
    const std::vector<VariantRecord> variants = store->variants(e.id);
    std::ostringstream out;
    out.precision(10);
    out << "layer,block,kind,d_out,d_in,sparsity,discarded_modes,relative_error_before,"
           "heldout_relative_error_before";
    for (const VariantRecord& v : variants)
        out << "," << csvField(v.label + " rank") << "," << csvField(v.label + " error") << ","
            << csvField(v.label + " heldout error");
    out << "\n";
    for (const LayerRecord& l : store->layers(e.id, false)) {
        out << csvField(l.name) << "," << l.block << "," << l.kind << "," << l.outFeatures << ","
            << l.inFeatures << "," << l.sparsity << "," << l.discardedModes << ","
            << (l.outputEnergy > 0 ? l.errorEnergy / l.outputEnergy : 0.0) << ","
            << (l.heldoutOutputEnergy > 0 ? l.heldoutErrorEnergy / l.heldoutOutputEnergy : 0.0);
        for (size_t v = 0; v < variants.size(); ++v)
            out << "," << (v < l.ranks.size() ? l.ranks[v] : 0) << ","
                << (v < l.errorAfter.size() ? l.errorAfter[v] : 0.0) << ","
                << (v < l.heldoutErrorAfter.size() ? l.heldoutErrorAfter[v] : 0.0);
        out << "\n";
    }
    writeFileAtomically(args.positional(1), out.str());
    std::printf("wrote %s\n", args.positional(1).c_str());
    return kExitOk;
}

int runCacheList(const ParsedArgs& args, const JobContext&) {
    const auto store = openRecordedStore(args);
    const ArtefactCache cache(defaultCacheDirectory());
    std::printf("cache %s\n", cache.directory().string().c_str());
    uint64_t total = 0;
    for (const ArtefactRecord& a : store->artefacts()) {
        const uint64_t bytes = cache.bytesOf(a.key);
        total += bytes;
        std::printf("  %.16s  %10s  last used %s  %s%s\n", a.key.c_str(),
                    formatBytes(bytes).c_str(), a.lastUsed.c_str(), a.description.c_str(),
                    cache.complete(a.key) ? "" : " (missing)");
    }
    std::printf("%s in all\n", formatBytes(total).c_str());
    return kExitOk;
}

uint64_t parseSize(const std::string& text) {
    static const std::map<std::string, uint64_t> units{
        {"", 1}, {"K", 1ull << 10}, {"M", 1ull << 20}, {"G", 1ull << 30}, {"T", 1ull << 40}};
    size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit = text.substr(used);
    if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b'))
        unit.pop_back();
    if (!unit.empty())
        unit[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0])));
    if (used == 0 || value < 0 || !units.count(unit))
        throw UsageError("--max-size takes a size like 500M or 20G, got '" + text + "'");
    return static_cast<uint64_t>(value * static_cast<double>(units.at(unit)));
}

int runCachePrune(const ParsedArgs& args, const JobContext&) {
    PruneOptions options;
    options.all = args.flag("--all");
    options.dryRun = args.flag("--dry-run");
    if (const auto days = args.integer("--older-than")) {
        if (*days < 0)
            throw UsageError("--older-than must not be negative");
        options.olderThanDays = *days;
    }
    if (const auto size = args.value("--max-size"))
        options.maxBytes = parseSize(*size);
    const auto store = openRecordedStore(args);
    ArtefactCache cache(defaultCacheDirectory());
    const PruneReport report = pruneCache(*store, cache, options);
    std::printf("%s %zu artefacts (%s), %lld incomplete and %lld unreferenced among them; %s "
                "kept in %s\n",
                options.dryRun ? "would remove" : "removed", report.removed.size(),
                formatBytes(report.freedBytes).c_str(),
                static_cast<long long>(report.incompleteRemoved),
                static_cast<long long>(report.orphansRemoved),
                formatBytes(report.keptBytes).c_str(), cache.directory().string().c_str());
    // Exports killed before they finished leave hidden staging directories beside their target.
    for (const std::string& line : cleanRegisteredLeftovers(stagingRegistry(), options.dryRun))
        std::printf("%s%s\n", options.dryRun ? "would have " : "", line.c_str());
    return kExitOk;
}

} // namespace

const OptionSpec kDb{"--db", "PATH",
                     "experiment database (default $RANKSCOPE_DB, else "
                     "$XDG_DATA_HOME/rankscope/rankscope.db)"};

std::filesystem::path databasePath(const ParsedArgs& args) {
    if (const auto db = args.value("--db"))
        return *db;
    return defaultDatabasePath();
}

std::vector<Command> storeCommands() {
    return {
        {{"experiments list",
          "[--model TEXT] [--status S] [--kind K] [--limit N] [--json]",
          "List the recorded experiments, newest first.",
          {},
          {{"--model", "TEXT", "only models whose path contains TEXT (or whose hash starts so)"},
           {"--status", "S", "running, done, failed, cancelled or interrupted"},
           {"--kind", "K", "compress (compression runs) or lowrank (LoRD, Lillama)"},
           {"--limit", "N", "at most N experiments"},
           {"--json", "", "print JSON"},
           kDb}},
         runList},
        {{"experiments show",
          "ID [--json]",
          "Settings, perplexities, per-layer errors and the command that re-runs an experiment.",
          {"ID"},
          {{"--json", "", "print JSON"}, kDb}},
         runShow},
        compareCommand(),
        {{"experiments delete", "ID", "Delete an experiment (not a running one).", {"ID"}, {kDb}},
         runDelete},
        {{"experiments analyze",
          "ID [--layer REGEX]",
          "Compute the spectra and error curves of a run made with --no-analysis, for the layers\n"
          "matching REGEX (all by default), from its cached calibration statistics.",
          {"ID"},
          {{"--layer", "REGEX", "only the layers whose names match (e.g. 'layers\\.3\\.mlp')"},
           kDb}},
         runAnalyze},
        {{"experiments export-csv",
          "ID OUT_FILE",
          "Write an experiment's per-layer results as CSV.",
          {"ID", kOutputFile},
          {kDb}},
         runExportCsv},
        {{"cache list", "", "List the cached calibration statistics.", {}, {kDb}}, runCacheList},
        {{"cache prune",
          "[--all] [--older-than DAYS] [--max-size SIZE] [--dry-run]",
          "Remove cached statistics: incomplete and unreferenced ones always, then those unused\n"
          "for DAYS, then the least recently used until the cache fits SIZE (e.g. 20G). Also\n"
          "removes what exports killed before they finished left beside their directory.",
          {},
          {{"--all", "", "remove every cached artefact"},
           {"--older-than", "DAYS", "remove artefacts not used for DAYS days"},
           {"--max-size", "SIZE", "shrink the cache to SIZE"},
           {"--dry-run", "", "only report what would be removed"},
           kDb}},
         runCachePrune},
    };
}

} // namespace rs::cli
