#include "pipeline/recording.h"

#include "compensate/compensation.h"
#include "io/model_files.h"
#include "methods/registry.h"
#include "model/summary.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/hash.h"

namespace rs {

std::string hashModelWeights(ExperimentStore& store, const std::filesystem::path& checkpoint,
                             HashMemo memo, const JobContext& job) {
    KnownHashFn known;
    if (memo == HashMemo::Use)
        known = [&store](const std::filesystem::path& f, const FileStamp& stamp) {
            return store.knownHash(f, stamp);
        };
    return hashWeights(
        checkpoint, known,
        [&store](const std::filesystem::path& f, const FileStamp& stamp, const std::string& hash) {
            store.rememberHash(f, stamp, hash);
        },
        job);
}

std::string recordModelFiles(const ModelSession& session, const JobContext& job) {
    return modelFilesJson(readModelFiles(session.summary().source, job));
}

ModelRecord registerModel(ExperimentStore& store, const ModelSession& session,
                          const JobContext& job) {
    const ModelSummary& summary = session.summary();
    const ModelConfig& c = summary.config;
    job.report("hash", 0, 0, "model weights");
    ModelRecord m;
    m.path = std::filesystem::weakly_canonical(summary.source).string();
    m.contentHash = hashModelWeights(store, summary.source, HashMemo::Use, job);
    m.architecture = c.modelType;
    m.layers = c.numLayers;
    m.hidden = c.hiddenSize;
    m.intermediate = c.intermediateSize;
    m.heads = c.numHeads;
    m.kvHeads = c.numKvHeads;
    m.vocab = c.vocabSize;
    m.parameters = summary.totalParameters;
    m.id = store.upsertModel(m);
    return m;
}

DatasetRecord registerText(ExperimentStore& store, const ModelSession& session,
                           const std::filesystem::path& path, const JobContext& job) {
    DatasetRecord d;
    d.path = std::filesystem::weakly_canonical(path).string();
    d.contentHash = sha256File(path, job);
    const Protocol protocol = detectProtocolOfFile(path, job);
    d.protocol = protocolName(protocol);
    d.tokens = countTokens(path, protocol, session.tokenizer(), job);
    d.id = store.upsertDataset(d);
    return d;
}

EvaluationRecord evaluationRecord(std::optional<size_t> variant, std::optional<int64_t> dataset,
                                  const PerplexityResult& p) {
    EvaluationRecord e;
    if (variant)
        e.variant = static_cast<int>(*variant);
    e.datasetId = dataset;
    e.protocol = p.protocol;
    e.seqLen = p.seqLen;
    e.tokens = p.predictedTokens;
    e.perplexity = p.perplexity;
    e.seconds = p.seconds;
    return e;
}

void recordOutcome(ExperimentStore& store, int64_t id,
                   const std::vector<std::pair<std::string, double>>& stageSeconds,
                   const std::function<void()>& job) {
    try {
        job();
    } catch (const CancelledError&) {
        store.finishExperiment(id, ExperimentStatus::Cancelled, stageSeconds);
        throw;
    } catch (const std::exception& e) {
        store.finishExperiment(id, ExperimentStatus::Failed, stageSeconds, e.what());
        throw;
    }
    store.finishExperiment(id, ExperimentStatus::Done, stageSeconds);
}

void storeAnalysis(const LayerAnalysis& analysis, LayerRecord& row) {
    row.curveSvd = analysis.curves.svd;
    row.curveEora = analysis.curves.eora;
    row.gramEigenvalues = analysis.spectra.gramEigenvalues;
    row.weightSingular = analysis.spectra.weightSingular;
    row.errorSingular = analysis.spectra.errorSingular;
    row.scaledErrorSingular = analysis.spectra.scaledErrorSingular;
}

const MethodSpec* recordedMethod(const VariantRecord& variant) {
    const std::string id = variant.compensation.substr(0, variant.compensation.find(':'));
    if (const MethodSpec* compensation = findMethod(id, MethodKind::Compensation))
        return compensation;
    return findMethod(id, MethodKind::LowRank);
}

} // namespace rs
