#include "export/reproduction.h"

#include "io/model_files.h"
#include "pipeline/recording.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <cmath>

namespace rs {

namespace {

void requireUnchangedWeights(ExperimentStore& store, const ExportSource& source,
                             const JobContext& job) {
    job.report("hash", 0, 0, "model weights");
    const std::string hash = hashModelWeights(store, source.model.path, HashMemo::Bypass, job);
    if (hash != source.model.contentHash)
        fail(source.model.path,
             "its weights changed since " + source.what + " ran; cannot reproduce it");
}

void requireUnchangedModelFiles(const ExportSource& source, const JobContext& job) {
    if (source.experiment.modelFiles.empty()) {
        job.report("warning", 0, 0,
                   source.what + " was recorded before RankScope kept the model's config and "
                                 "tokenizer hashes; those are not checked, its weights and "
                                 "texts are");
        return;
    }
    const std::vector<std::string> changes =
        modelFileChanges(parseModelFiles(source.experiment.modelFiles, source.what),
                         readModelFiles(source.model.path, job));
    if (changes.empty())
        return;
    std::string list;
    for (const std::string& change : changes)
        list += (list.empty() ? "" : "; ") + change;
    fail(source.model.path, list + " since " + source.what + " ran; cannot reproduce it");
}

void requireUnchangedText(const ExperimentStore& store, const std::optional<int64_t>& datasetId,
                          const std::filesystem::path& path, const std::string& role,
                          const ExportSource& source, const JobContext& job) {
    if (!datasetId || path.empty())
        return;
    const std::optional<DatasetRecord> dataset = store.dataset(*datasetId);
    if (!dataset)
        fail(source.what, "has no record of its " + role + " text");
    job.report("hash", 0, 0, role + " text");
    if (sha256File(path, job) != dataset->contentHash)
        fail(path.string(),
             "the " + role + " text changed since " + source.what + " ran; cannot reproduce it");
}

} // namespace

double relativeDifference(double value, double reference) {
    return std::abs(value - reference) / std::abs(reference);
}

void requireUnchangedInputs(ExperimentStore& store, const ExportSource& source,
                            const CompressRequest& compress, const JobContext& job) {
    requireUnchangedWeights(store, source, job);
    requireUnchangedModelFiles(source, job);
    requireUnchangedText(store, source.experiment.calibDatasetId, compress.inputs.calibText,
                         "calibration", source, job);
    requireUnchangedText(store, source.experiment.evalDatasetId, compress.inputs.evalText,
                         "evaluation", source, job);
}

void checkReproduced(const ExperimentStore& store, const ExportSource& source,
                     ExportResult& result) {
    for (const EvaluationRecord& e : store.evaluations(source.experiment.id))
        if (e.variant && static_cast<size_t>(*e.variant) == source.variant)
            result.storedPerplexity = e.perplexity;
    if (!result.storedPerplexity || !result.inMemory ||
        relativeDifference(result.inMemory->perplexity, *result.storedPerplexity) <=
            kReproducedPerplexityTolerance)
        return;
    const std::string& ran = source.experiment.version;
    const std::string why =
        ran == rankscopeVersion()
            ? "the same RankScope version (" + ran +
                  ") computes it differently here: another device, dtype or thread count?"
            : "RankScope " + ran + " ran it and this is " + rankscopeVersion();
    fail(source.what, "reproduced perplexity " + std::to_string(result.inMemory->perplexity) +
                          " differs from the stored " + std::to_string(*result.storedPerplexity) +
                          "; its weights, model files and texts are unchanged, so " + why);
}

} // namespace rs
