#include "export/export_job.h"

#include "export/export_reader.h"
#include "export/model_card.h"
#include "export/source_model.h"
#include "io/atomicfile.h"
#include "io/dtype.h"
#include "pipeline/compress_job.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
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

// Room left beyond the estimate (file system metadata, headers, the card).
constexpr uint64_t kSpaceMargin = uint64_t(16) << 20;

double relativeDifference(double value, double reference) {
    return std::abs(value - reference) / std::abs(reference);
}

size_t chooseVariant(const std::vector<VariantRecord>& variants, const std::string& label,
                     const std::string& what) {
    std::string labels;
    for (const VariantRecord& v : variants)
        labels += (labels.empty() ? "" : ", ") + v.label;
    if (!label.empty()) {
        for (const VariantRecord& v : variants)
            if (v.label == label)
                return static_cast<size_t>(v.index);
        fail(what, "has no variant '" + label + "' (it has " + labels + ")");
    }
    std::vector<size_t> compensated;
    for (const VariantRecord& v : variants)
        if (v.label != "none")
            compensated.push_back(static_cast<size_t>(v.index));
    if (compensated.size() == 1)
        return compensated.front();
    if (variants.size() == 1)
        return 0;
    fail(what, "has several variants; choose one with --variant (" + labels + ")");
}

std::string defaultDtype(const SourceModel& source) {
    const std::string& d = source.config.torchDtype;
    return parseFloatDtype(d) ? d : "float32";
}

// An upper bound of the bytes the export needs on disk: every source tensor, and every decoder
// linear twice in the export's dtype (its scratch copy lives until the final file is written);
// low-rank factors are small beside them and covered by the margin on any real model, and a
// disk that still fills is reported by the writer naming the file.
uint64_t estimateBytes(const SourceModel& source, const std::string& dtype) {
    const uint64_t element = dtype == "float32" ? 4 : 2;
    uint64_t bytes = kSpaceMargin;
    for (const NamedTensor& t : source.files.tensors) {
        bytes += t.tensor.nbytes();
        if (t.name.ends_with("_proj.weight"))
            bytes += 2 * element * static_cast<uint64_t>(t.tensor.numel());
    }
    for (const fs::path& f : source.extraFiles)
        bytes += fs::file_size(f);
    return bytes;
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

ExportResult exportExperiment(ExperimentStore& store, const ExportRequest& request,
                              const JobContext& job, const ExportOptions& options) {
    const std::string what = "experiment " + std::to_string(request.experimentId);
    const auto experiment = store.experiment(request.experimentId);
    if (!experiment)
        fail(store.path().string(), "no " + what);
    if (experiment->status != ExperimentStatus::Done)
        fail(what, std::string("is ") + statusName(experiment->status) +
                       "; only finished experiments can be exported");
    // LoRD and Lillama runs are reproduced by their own job, which exports them itself.
    if (experiment->kind == ExperimentKind::LowRank)
        fail(what,
             "is a low-rank (LoRD/Lillama) run; export it in the factorized format with `" +
                 lowRankCommandLine(lowRankRequestFromJson(experiment->request, what), "MODEL") +
                 " --export DIR`");
    const size_t variant = chooseVariant(store.variants(experiment->id), request.variant, what);
    const auto model = store.model(experiment->modelId);
    if (!model)
        fail(what, "has no model record");

    if (!request.dtype.empty() && !parseFloatDtype(request.dtype))
        fail("--dtype",
             "unsupported dtype '" + request.dtype + "' (supported: float32, bfloat16, float16)");
    // Refuse an existing target before any work; the staging directory lives beside it.
    StagedDirectory stage(request.outDir, request.force);
    const SourceModel source = readSourceModel(model->path);
    job.report("hash", 0, 0, "model weights");
    const std::string hash = hashWeights(
        model->path,
        [&store](const fs::path& f, int64_t size, int64_t mtime) {
            return store.knownHash(f, size, mtime);
        },
        [&store](const fs::path& f, int64_t size, int64_t mtime, const std::string& h) {
            store.rememberHash(f, size, mtime, h);
        },
        job);
    if (hash != model->contentHash)
        fail(model->path, "its weights changed since " + what + " ran; cannot reproduce it");

    ExportSettings settings;
    settings.source = &source;
    settings.dtype = request.dtype.empty() ? defaultDtype(source) : request.dtype;
    settings.adapterBase = stage.target().string();
    requireFreeSpace(stage.target().parent_path(), estimateBytes(source, settings.dtype),
                     options.freeSpace);

    // Reproduce the compressed weights block by block, each block's handed to the writer as it
    // is done; the reports the export does not need are skipped.
    CompressRequest compress = compressRequestOf(*experiment);
    compress.inputs.analyze = false;
    compress.heldoutTokens = 0;
    compress.inputs.evaluateBaseline = false;
    ExportWriter writer(stage.path(), request.format, settings, job);
    size_t exported = 0;
    CompressHooks hooks;
    hooks.compressed = [&](size_t v, const std::vector<CompressedLinear>& linears) {
        if (v != variant)
            return;
        writer.add(exportLinears(linears));
        exported += linears.size();
    };
    OpenOptions open;
    open.device = options.device;
    const auto session = ModelSession::open(model->path, open, job);
    const CompressResult reproduced = runCompression(*session, compress, job, hooks);
    if (exported == 0)
        fail(what, "reproducing it gave no compressed layers");

    ExportResult result;
    result.format = exportFormatName(request.format);
    result.variant = reproduced.variants.at(variant).label();
    result.dtype = settings.dtype;
    result.inMemory = reproduced.variants[variant].perplexity;
    for (const EvaluationRecord& e : store.evaluations(experiment->id))
        if (e.variant && static_cast<size_t>(*e.variant) == variant)
            result.storedPerplexity = e.perplexity;
    if (result.storedPerplexity && result.inMemory &&
        relativeDifference(result.inMemory->perplexity, *result.storedPerplexity) >
            kReproducedPerplexityTolerance)
        fail(what, "reproduced perplexity " + std::to_string(result.inMemory->perplexity) +
                       " differs from the stored " + std::to_string(*result.storedPerplexity) +
                       "; the texts or RankScope changed since it ran");

    result.written = writer.finish();

    if (!compress.inputs.evalText.empty()) {
        job.report("verify", 0, 0, "reading the export back");
        result.reloaded =
            evaluateExport(stage.path(), compress.inputs.evalText, compress.inputs.eval, job);
        if (result.inMemory && settings.dtype == "float32" &&
            relativeDifference(result.reloaded->perplexity, result.inMemory->perplexity) >
                kFloat32ReloadTolerance)
            fail(stage.target().string(),
                 "read back, the export scores perplexity " +
                     std::to_string(result.reloaded->perplexity) + " instead of " +
                     std::to_string(result.inMemory->perplexity) + "; not exported");
    }

    ModelCardInfo card;
    card.format = request.format;
    card.dtype = settings.dtype;
    card.sourceModel = model->path;
    card.sourceHash = model->contentHash;
    card.experimentId = experiment->id;
    card.compression = compress.compression.serialize();
    card.variant = result.variant;
    card.calibration = compress.inputs.calibText.filename().string() + ", " +
                       formatCount(reproduced.calibrationTokens) + " tokens, " +
                       calibrationModeName(compress.mode) + " calibration";
    card.evalText = compress.inputs.evalText.filename().string();
    card.inMemory = result.inMemory;
    card.reloaded = result.reloaded;
    card.written = result.written;
    card.files = listFiles(stage.path());
    writeFileAtomically(stage.path() / "README.md", modelCard(card));

    result.files = listFiles(stage.path());
    result.contentHash = hashExportDirectory(stage.path(), job);
    const nlohmann::ordered_json manifest = {{"format", result.format},
                                             {"experiment", experiment->id},
                                             {"variant", result.variant},
                                             {"dtype", result.dtype},
                                             {"content_hash", result.contentHash},
                                             {"source_model", model->path},
                                             {"source_weights_sha256", model->contentHash},
                                             {"rankscope", rankscopeVersion()}};
    writeFileAtomically(stage.path() / kExportManifest, manifest.dump(2) + "\n");
    job.cancel.throwIfCancelled();
    stage.commit();
    result.path = stage.target();
    result.bytes = directoryBytes(result.path);

    ExportRecord record;
    record.experimentId = experiment->id;
    record.variant = static_cast<int>(variant);
    record.path = result.path.string();
    record.format = result.format;
    record.contentHash = result.contentHash;
    result.exportId = store.addExport(record);
    return result;
}

} // namespace rs
