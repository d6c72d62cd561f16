#include "pipeline/experiment_recorder.h"

#include "model/llama.h"
#include "pipeline/job_inputs.h"
#include "pipeline/recording.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <thread>

namespace rs {

namespace {

// Bumped whenever the saved statistics change meaning or layout.
constexpr int kStatisticsFormat = 1;
// Saving statistics must leave this much of the disk free.
constexpr uint64_t kFreeSpaceReserve = uint64_t(1) << 30;

constexpr std::array<const char*, 4> kSiteKeys{"attn", "attn_out", "mlp", "mlp_down"};

std::string layerFile(int64_t layer) {
    char name[40];
    std::snprintf(name, sizeof name, "layer-%04lld.safetensors", static_cast<long long>(layer));
    return name;
}

// Writes each layer's statistics as the wrapped source produces them; the artefact is committed
// (and registered in the store) after the last layer, so an interrupted run leaves nothing that
// a later run could mistake for complete statistics.
class SavingSource final : public LayerStatsSource {
public:
    SavingSource(std::unique_ptr<LayerStatsSource> inner, ExperimentStore& store,
                 ArtefactCache& cache, std::string key, std::string description, int64_t layers,
                 std::function<void(int64_t artefact)> committed)
        : m_inner(std::move(inner))
        , m_store(store)
        , m_cache(cache)
        , m_writer(cache, key)
        , m_key(std::move(key))
        , m_description(std::move(description))
        , m_layers(layers)
        , m_committed(std::move(committed)) {}

    // Every site, whatever the job needs: the artefact must serve any later selection.
    LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask) override {
        return save(layer, m_inner->collect(layer, job, kAllSites));
    }
    LayerInputStats collectAndAdvance(int64_t layer, const JobContext& job, SiteMask) override {
        return save(layer, m_inner->collectAndAdvance(layer, job, kAllSites));
    }
    void advance(int64_t layer, const JobContext& job) override { m_inner->advance(layer, job); }

private:
    LayerInputStats save(int64_t layer, LayerInputStats stats) {
        std::vector<NamedTensor> tensors;
        std::map<std::string, std::string> metadata;
        for (size_t i = 0; i < kSiteKeys.size(); ++i) {
            const InputStats& s = stats.sites[i];
            if (!s.gram.defined())
                continue;
            const std::string site = kSiteKeys[i];
            tensors.push_back({site + ".gram",
                               s.gram.to(at::kCPU, gramStorageType(s.gram.size(0))).contiguous()});
            tensors.push_back(
                {site + ".mean_abs", s.meanAbs.to(at::kCPU, at::kDouble).contiguous()});
            metadata["tokens." + site] = std::to_string(s.tokens);
        }
        m_writer.add(layerFile(layer), tensors, metadata);
        if (layer + 1 == m_layers) {
            m_writer.commit(nlohmann::json{
                {"format", kStatisticsFormat}, {"layers", m_layers}, {"description", m_description}}
                                .dump());
            m_committed(m_store.addArtefact(
                {0, m_key, "statistics", m_description, int64_t(m_writer.bytesWritten()), {}, {}}));
            // Older artefacts make room, least recently used first, so the cache keeps its cap.
            PruneOptions prune;
            prune.maxBytes = defaultCacheCap();
            pruneCache(m_store, m_cache, prune);
        }
        return stats;
    }

    std::unique_ptr<LayerStatsSource> m_inner;
    ExperimentStore& m_store;
    ArtefactCache& m_cache;
    ArtefactCache::Writer m_writer;
    std::string m_key;
    std::string m_description;
    int64_t m_layers = 0;
    std::function<void(int64_t)> m_committed;
};

// Statistics read back from a complete artefact.
class SavedSource final : public LayerStatsSource {
public:
    SavedSource(const ArtefactCache& cache, std::string key, at::Device device)
        : m_cache(cache)
        , m_key(std::move(key))
        , m_device(device) {}

    LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask sites) override {
        job.cancel.throwIfCancelled();
        const SafetensorsFile file = m_cache.open(m_key, layerFile(layer));
        LayerInputStats stats;
        for (size_t i = 0; i < kSiteKeys.size(); ++i) {
            if (!(sites & siteBit(static_cast<InputSite>(i))))
                continue;
            const std::string site = kSiteKeys[i];
            if (!file.contains(site + ".gram"))
                fail(file.path().string(), "has no statistics for the " + site + " input");
            InputStats& s = stats.sites[i];
            s.gram = file.tensor(site + ".gram").to(m_device, at::kDouble);
            s.meanAbs = file.tensor(site + ".mean_abs").to(m_device);
            const auto tokens = file.metadata().find("tokens." + site);
            if (tokens == file.metadata().end())
                fail(file.path().string(), "has no token count for the " + site + " input");
            s.tokens = std::stoll(tokens->second);
        }
        return stats;
    }
    void advance(int64_t, const JobContext&) override {}

private:
    const ArtefactCache& m_cache;
    std::string m_key;
    at::Device m_device;
};

std::string statisticsKey(const std::string& modelHash, const std::string& textHash,
                          const ModelSession& session, const StatsRequest& request) {
    return sha256Hex("rankscope statistics " + std::to_string(kStatisticsFormat) + "\nmodel " +
                     modelHash + "\ntext " + textHash + "\nrole " +
                     (request.role == StatsRole::Calibration ? "calibration" : "heldout") +
                     "\ntokens " + std::to_string(request.tokens) + "\nseq_len " +
                     std::to_string(request.seqLen) + "\ndtype " + session.computeDtype() + "\n");
}

// Bytes the statistics of one run take: per layer, a d x d float64 Gram matrix and a mean per
// distinct input.
uint64_t statisticsBytes(const ModelConfig& c) {
    const auto site = [](int64_t d) {
        return uint64_t(d) * uint64_t(d) * at::elementSize(gramStorageType(d)) + uint64_t(d) * 8;
    };
    return uint64_t(c.numLayers) * (3 * site(c.hiddenSize) + site(c.intermediateSize));
}

} // namespace

VariantRecord toVariantRecord(const Variant& variant, int index) {
    return {index, variant.compensation.serialize(), variant.rank, variant.label(),
            variant.adapterParameters};
}

LayerRecord toLayerRecord(const LayerReport& r) {
    LayerRecord out;
    out.name = r.name;
    out.block = r.block;
    out.kind = r.kind;
    out.outFeatures = r.outFeatures;
    out.inFeatures = r.inFeatures;
    out.sparsity = r.sparsity;
    out.discardedModes = r.discardedModes;
    out.outputEnergy = r.outputEnergy;
    out.errorEnergy = r.errorEnergy;
    out.heldoutOutputEnergy = r.heldoutOutputEnergy;
    out.heldoutErrorEnergy = r.heldoutErrorEnergy;
    out.ranks = r.ranks;
    out.errorAfter = r.errorAfter;
    out.heldoutErrorAfter = r.heldoutErrorAfter;
    if (r.analysis)
        storeAnalysis(*r.analysis, out);
    return out;
}

namespace {

// Another run writing the same statistics holds the artefact's lock. Waiting for it (and then
// reusing what it saved) beats computing them twice; a run that dies releases the lock at once.
// False when it still writes after `timeout`.
bool waitForOtherWriter(const ArtefactCache& cache, const std::string& key,
                        std::chrono::seconds timeout, const JobContext& job) {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    while (cache.beingWritten(key)) {
        job.cancel.throwIfCancelled();
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start);
        if (waited >= timeout)
            return false;
        job.report("wait", waited.count(), 0,
                   "another run is calibrating the same model on the same text; waiting for "
                   "its statistics (seconds, at most " +
                       std::to_string(timeout.count()) + ")");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return true;
}

} // namespace

std::unique_ptr<LayerStatsSource> savedStatistics(const ArtefactCache& cache, std::string key,
                                                  at::Device device) {
    return std::make_unique<SavedSource>(cache, std::move(key), device);
}

RecordedCompression runRecordedCompression(ModelSession& session, const CompressRequest& request,
                                           ExperimentStore& store, ArtefactCache& cache,
                                           const RecordOptions& options, const JobContext& job) {
    RecordedCompression out;
    // Checked before anything is recorded: a model or a layer pattern that cannot be used is a
    // mistake in the call, not a failed experiment.
    requireDenseModel(session, "compression");
    requireRanksFit(request, selectLinears(session.checkpoint(), request.inputs.layers));
    const ModelRecord model = registerModel(store, session, job);
    const ModelConfig& config = session.summary().config;
    DatasetRecord calibText, evalText;
    ExperimentRecord experiment;
    experiment.name = options.name;
    experiment.notes = options.notes;
    experiment.modelId = model.id;
    experiment.modelFiles = recordModelFiles(session, job);
    calibText = registerText(store, session, request.inputs.calibText, job);
    experiment.calibDatasetId = calibText.id;
    if (!request.inputs.evalText.empty()) {
        evalText = registerText(store, session, request.inputs.evalText, job);
        experiment.evalDatasetId = evalText.id;
    }
    experiment.calibMode = calibrationModeName(request.mode);
    experiment.calibTokens = request.inputs.calibTokens;
    experiment.calibSeqLen = request.inputs.calibSeqLen;
    experiment.compression = request.compression.serialize();
    for (const MethodConfig& m : request.compensations)
        experiment.compensations.push_back(m.serialize());
    experiment.rankPlan = rankPlanJson(request);
    experiment.request = requestToJson(request);
    const int64_t id = store.beginExperiment(experiment);
    out.experimentId = id;

    CompressHooks hooks;
    hooks.stats = [&](const StatsRequest& stats) -> std::unique_ptr<LayerStatsSource> {
        const bool calibration = stats.role == StatsRole::Calibration;
        const std::string key = statisticsKey(
            model.contentHash, calibration ? calibText.contentHash : evalText.contentHash, session,
            stats);
        const bool usesCache = options.reuseStatistics || options.saveStatistics;
        const bool writerGone =
            !usesCache || waitForOtherWriter(cache, key, options.statisticsWait, job);
        if (options.reuseStatistics && cache.complete(key)) {
            // The cache is keyed by content, so statistics saved for another database are as
            // good as ours: register them when this database does not know them yet.
            const auto known = store.findArtefact(key);
            const int64_t artefact = known ? known->id
                                           : store.addArtefact({0,
                                                                key,
                                                                "statistics",
                                                                "statistics found in the cache",
                                                                int64_t(cache.bytesOf(key)),
                                                                {},
                                                                {}});
            store.touchArtefact(artefact);
            if (calibration) {
                store.setCalibrationArtefact(id, artefact, true);
                out.calibrationReused = true;
            } else {
                out.heldoutReused = true;
            }
            return savedStatistics(cache, key, session.model().device());
        }
        if (!options.saveStatistics)
            return stats.calibrate();
        const std::string busy = "statistics not saved: another run was still writing them after " +
                                 std::to_string(options.statisticsWait.count()) + " s";
        if (!writerGone) {
            out.statisticsNote = busy;
            return stats.calibrate();
        }
        if (cache.complete(key))
            cache.remove(key); // recalibrating on purpose: the new statistics replace the old
        const uint64_t needed = statisticsBytes(config);
        if (needed > defaultCacheCap()) {
            out.statisticsNote = "statistics not saved: they need " + formatBytes(needed) +
                                 ", more than the cache's cap of " +
                                 formatBytes(defaultCacheCap()) +
                                 " (set RANKSCOPE_CACHE_MAX_SIZE to raise it)";
            return stats.calibrate();
        }
        std::error_code error;
        std::filesystem::create_directories(cache.directory(), error);
        const auto space = std::filesystem::space(cache.directory(), error);
        if (error || space.available < needed + kFreeSpaceReserve) {
            out.statisticsNote = "statistics not saved: they need " + formatBytes(needed) +
                                 (error ? ", and " + cache.directory().string() +
                                              " is not usable: " + error.message()
                                        : " and " + formatBytes(space.available) + " are free in " +
                                              cache.directory().string());
            return stats.calibrate();
        }
        const std::string description =
            std::string(calibration ? "calibration" : "held-out") + " statistics of " + model.path +
            " on " +
            (calibration ? request.inputs.calibText : request.inputs.evalText).filename().string() +
            ", " + std::to_string(stats.tokens) + " tokens";
        try {
            return std::make_unique<SavingSource>(
                stats.calibrate(), store, cache, key, description, config.numLayers,
                [&store, id, calibration](int64_t artefact) {
                    if (calibration)
                        store.setCalibrationArtefact(id, artefact, false);
                });
        } catch (const Error&) {
            if (!cache.beingWritten(key))
                throw;
            out.statisticsNote = busy; // another run took the lock since the wait ended
            return stats.calibrate();
        }
    };
    hooks.planned = [&](const CompressResult& result) {
        std::vector<VariantRecord> variants;
        for (size_t v = 0; v < result.variants.size(); ++v)
            variants.push_back(toVariantRecord(result.variants[v], static_cast<int>(v)));
        store.addVariants(id, variants);
    };
    hooks.layerDone = [&](const CompressResult& result, size_t first, size_t count) {
        std::vector<LayerRecord> layers;
        for (size_t i = first; i < first + count; ++i)
            layers.push_back(toLayerRecord(result.layers[i]));
        store.addLayers(id, layers);
    };
    hooks.evaluated = [&](std::optional<size_t> variant, const PerplexityResult& p) {
        store.addEvaluation(id, evaluationRecord(variant, experiment.evalDatasetId, p));
    };

    recordOutcome(store, id, out.result.stageSeconds,
                  [&] { out.result = runCompression(session, request, job, hooks); });
    return out;
}

} // namespace rs
