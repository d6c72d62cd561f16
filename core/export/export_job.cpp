#include "export/export_job.h"

#include "export/leftovers.h"
#include "export/model_card.h"
#include "export/reproduction.h"
#include "export/source_model.h"
#include "export/space_estimate.h"
#include "export/verify_export.h"
#include "io/atomicfile.h"
#include "io/dtype.h"
#include "methods/registry.h"
#include "pipeline/compress_job.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/recording.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "util/argument_error.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace rs {

namespace fs = std::filesystem;

namespace {

size_t chooseVariant(const std::vector<VariantRecord>& variants, const std::string& label,
                     const std::string& what) {
    std::string labels;
    for (const VariantRecord& v : variants)
        labels += (labels.empty() ? "" : ", ") + v.label;
    if (!label.empty()) {
        for (const VariantRecord& v : variants)
            if (v.label == label)
                return static_cast<size_t>(v.index);
        failArgument(what, "has no variant '" + label + "' (it has " + labels + ")");
    }
    std::vector<size_t> compensated;
    for (const VariantRecord& v : variants)
        if (const MethodSpec* method = recordedMethod(v); method && method->fitsFactors())
            compensated.push_back(static_cast<size_t>(v.index));
    if (compensated.size() == 1)
        return compensated.front();
    if (variants.size() == 1)
        return 0;
    fail(what, "has several variants; choose one with --variant (" + labels + ")");
}

// The source's dtype; GGUF, which has no bfloat16 here, stores a bfloat16 model as float16.
std::string defaultDtype(const SourceModel& source, ExportFormat format) {
    const std::string& d = source.config.torchDtype;
    if (format == ExportFormat::Gguf && d == "bfloat16")
        return "float16";
    return parseFloatDtype(d) ? d : "float32";
}

// One block's compressed linears as the writer takes them, on the CPU.
std::vector<ExportLinear> exportLinears(const std::vector<CompressedLinear>& linears) {
    std::vector<ExportLinear> out;
    for (const CompressedLinear& c : linears) {
        ExportLinear l{c.name, c.compressed->weight.to(at::kCPU), std::nullopt, {}};
        if (c.compressed->quant) {
            QuantGrid g = *c.compressed->quant;
            g.codes = g.codes.cpu(), g.scales = g.scales.cpu(), g.zeros = g.zeros.cpu();
            g.groupIndex = g.groupIndex.cpu();
            l.grid = std::move(g);
        }
        if (c.factors->rank() > 0)
            l.factors = {c.factors->B.to(at::kCPU), c.factors->A.to(at::kCPU)};
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<std::pair<std::string, uint64_t>> listFiles(const fs::path& dir) {
    std::vector<std::pair<std::string, uint64_t>> files;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            files.emplace_back(fs::relative(e.path(), dir).generic_string(), e.file_size());
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

namespace {

int64_t adapterParameters(const ExperimentStore& store, const ExportSource& source) {
    for (const VariantRecord& v : store.variants(source.experiment.id))
        if (static_cast<size_t>(v.index) == source.variant)
            return v.adapterParameters;
    return 0;
}

ExportSource exportableExperiment(const ExperimentStore& store, const ExportRequest& request) {
    ExportSource out;
    out.what = "experiment " + std::to_string(request.experimentId);
    const auto experiment = store.experiment(request.experimentId);
    if (!experiment)
        failArgument(store.path().string(), "no " + out.what);
    if (experiment->status != ExperimentStatus::Done)
        fail(out.what, std::string("is ") + statusName(experiment->status) +
                           "; only finished experiments can be exported");
    // LoRD and Lillama runs are reproduced by their own job, which exports them itself.
    if (experiment->kind == ExperimentKind::LowRank)
        fail(
            out.what,
            "is a low-rank (LoRD/Lillama) run; export it in the factorized format with `" +
                lowRankCommandLine(lowRankRequestFromJson(experiment->request, out.what), "MODEL") +
                " --export DIR`");
    out.variant = chooseVariant(store.variants(experiment->id), request.variant, out.what);
    const auto model = store.model(experiment->modelId);
    if (!model)
        fail(out.what, "has no model record");
    out.experiment = *experiment;
    out.model = *model;
    return out;
}

// Reads the staged export back as a model and scores it; a float32 export must match the
// in-memory model.
void verifyReadBack(const StagedDirectory& stage, const CompressRequest& compress,
                    const std::string& dtype, const std::string& device, ExportResult& result,
                    const JobContext& job) {
    if (compress.inputs.evalText.empty())
        return;
    job.report("verify", 0, 0, "reading the export back");
    result.reloaded =
        evaluateExport(stage.path(), compress.inputs.evalText, compress.inputs.eval, job);
    if (!result.runtimeDtype.empty()) {
        job.report("verify", 0, 0, "running the export in " + result.runtimeDtype);
        OpenOptions open;
        open.dtype = result.runtimeDtype;
        open.device = device;
        result.inRuntimeDtype =
            evaluateExport(stage.path(), compress.inputs.evalText, compress.inputs.eval, job, open);
    }
    if (result.inMemory && dtype == "float32" &&
        relativeDifference(result.reloaded->perplexity, result.inMemory->perplexity) >
            kFloat32ReloadTolerance)
        fail(stage.target().string(),
             "read back, the export scores perplexity " +
                 std::to_string(result.reloaded->perplexity) + " instead of " +
                 std::to_string(result.inMemory->perplexity) + "; not exported");
}

void writeModelCard(const StagedDirectory& stage, const ExportSource& source,
                    const ExportRequest& request, const CompressRequest& compress,
                    const CompressResult& reproduced, const ExportResult& result) {
    ModelCardInfo card;
    card.format = request.format;
    card.dtype = result.dtype;
    card.sourceModel = source.model.path;
    card.sourceHash = source.model.contentHash;
    card.experimentId = source.experiment.id;
    card.compression = compress.compression.serialize();
    card.variant = result.variant;
    card.calibration = compress.inputs.calibText.filename().string() + ", " +
                       formatCount(reproduced.calibrationTokens) + " tokens, " +
                       calibrationModeName(compress.mode) + " calibration";
    card.evalText = compress.inputs.evalText.filename().string();
    card.inMemory = result.inMemory;
    card.reloaded = result.reloaded;
    card.runtimeDtype = result.runtimeDtype;
    card.inRuntimeDtype = result.inRuntimeDtype;
    card.written = result.written;
    card.files = listFiles(stage.path());
    writeFileAtomically(stage.path() / "README.md", modelCard(card));
}

void writeManifest(const StagedDirectory& stage, const ExportSource& source,
                   const ExportResult& result) {
    nlohmann::ordered_json manifest = {{"format", result.format},
                                       {"experiment", source.experiment.id},
                                       {"variant", result.variant},
                                       {"dtype", result.dtype},
                                       {"content_hash", result.contentHash},
                                       {"source_model", source.model.path},
                                       {"source_weights_sha256", source.model.contentHash},
                                       {"rankscope", rankscopeVersion()},
                                       {"files", nlohmann::ordered_json::array()}};
    // The files it wrote: `export --force` replaces these and nothing else.
    for (const auto& [path, bytes] : result.files)
        manifest["files"].push_back({{"path", path}, {"bytes", bytes}});
    writeFileAtomically(stage.path() / kExportManifest, manifest.dump(2) + "\n");
}

int64_t recordExport(ExperimentStore& store, const ExportSource& source,
                     const ExportResult& result) {
    ExportRecord record;
    record.experimentId = source.experiment.id;
    record.variant = static_cast<int>(source.variant);
    record.path = result.path.string();
    record.format = result.format;
    record.contentHash = result.contentHash;
    return store.addExport(record);
}

} // namespace

ExportResult exportExperiment(ExperimentStore& store, const ExportRequest& request,
                              const JobContext& job, const ExportOptions& options) {
    const ExportSource source = exportableExperiment(store, request);
    if (!request.dtype.empty() && !parseFloatDtype(request.dtype))
        fail("--dtype",
             "unsupported dtype '" + request.dtype + "' (supported: float32, bfloat16, float16)");
    // Refuse an existing target before any work; the staging directory lives beside it.
    StagedDirectory stage(request.outDir, request.force, stagingRegistry());
    const SourceModel model = readSourceModel(source.model.path);
    CompressRequest compress = compressRequestOf(source.experiment);
    requireUnchangedInputs(store, source, compress, job);

    ExportSettings settings;
    settings.source = &model;
    settings.dtype = request.dtype.empty() ? defaultDtype(model, request.format) : request.dtype;
    settings.adapterBase = sourceModelName(model);
    requireFreeSpace(stage.target().parent_path(),
                     estimateExportSpace(model, request.format, settings.dtype,
                                         MethodConfig::parse(source.experiment.compression,
                                                             MethodKind::Compression),
                                         adapterParameters(store, source)),
                     options.freeSpace);

    // Reproduce the compressed weights block by block, each block's handed to the writer as it
    // is done; the reports the export does not need are skipped.
    compress.inputs.analyze = false;
    compress.heldoutTokens = 0;
    compress.inputs.evaluateBaseline = false;
    ExportWriter writer(stage.path(), request.format, settings, job);
    size_t exported = 0;
    CompressHooks hooks;
    hooks.compressed = [&](size_t v, const std::vector<CompressedLinear>& linears) {
        if (v != source.variant)
            return;
        writer.add(exportLinears(linears));
        exported += linears.size();
    };
    OpenOptions open;
    open.device = options.device;
    const auto session = ModelSession::open(source.model.path, open, job);
    const CompressResult reproduced = runCompression(*session, compress, job, hooks);
    if (exported == 0)
        fail(source.what, "reproducing it gave no compressed layers");

    ExportResult result;
    result.format = exportFormatName(request.format);
    result.variant = reproduced.variants.at(source.variant).label();
    result.dtype = settings.dtype;
    result.inMemory = reproduced.variants[source.variant].perplexity;
    checkReproduced(store, source, result);
    result.written = writer.finish();
    result.runtimeDtype = runtimeDtype(request.format, resolveDevice(options.device));
    verifyReadBack(stage, compress, settings.dtype, options.device, result, job);
    writeModelCard(stage, source, request, compress, reproduced, result);

    result.files = listFiles(stage.path());
    result.contentHash = hashExportDirectory(stage.path(), job);
    writeManifest(stage, source, result);
    job.cancel.throwIfCancelled();
    stage.commit();
    result.path = stage.target();
    result.bytes = directoryBytes(result.path);
    result.exportId = recordExport(store, source, result);
    return result;
}

} // namespace rs
