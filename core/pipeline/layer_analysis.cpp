#include "pipeline/layer_analysis.h"

#include "compress/compress.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/job_inputs.h"
#include "pipeline/recording.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/interruptible.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <regex>

namespace rs {

namespace {

// The experiment, checked to be one whose statistics can be read back for this session's model.
ExperimentRecord analysableExperiment(ModelSession& session, ExperimentStore& store,
                                      int64_t experimentId, const JobContext& job) {
    const std::string subject = "experiment " + std::to_string(experimentId);
    const std::optional<ExperimentRecord> experiment = store.experiment(experimentId);
    if (!experiment)
        fail(subject, "no such experiment in " + store.path().string());
    if (experiment->kind != ExperimentKind::Compress)
        fail(subject, "is not a compression run (only those keep their statistics)");
    if (experiment->status != ExperimentStatus::Done)
        fail(subject, std::string("has not finished (") + statusName(experiment->status) + ")");
    if (experiment->calibMode != "parallel")
        fail(subject, "used sequential calibration, whose statistics depend on the compressed "
                      "layers before and are not saved: rerun it without --no-analysis");
    if (registerModel(store, session, job).id != experiment->modelId)
        fail(subject, "was run on another model than " + session.summary().source);
    return *experiment;
}

std::string statisticsKeyOf(const ExperimentRecord& experiment, const ExperimentStore& store,
                            const ArtefactCache& cache) {
    const std::string subject = "experiment " + std::to_string(experiment.id);
    if (!experiment.calibrationArtefact)
        fail(subject, "saved no calibration statistics (run with --no-cache?): rerun it "
                      "without --no-analysis");
    for (const ArtefactRecord& artefact : store.artefacts())
        if (artefact.id == *experiment.calibrationArtefact) {
            if (!cache.complete(artefact.key))
                fail(subject, "its calibration statistics are no longer in " +
                                  cache.directory().string() + " (pruned): rerun it");
            return artefact.key;
        }
    fail(subject, "its calibration statistics were removed from the store: rerun it");
}

} // namespace

std::vector<std::string> analyzeRecordedLayers(ModelSession& session, ExperimentStore& store,
                                               const ArtefactCache& cache, int64_t experimentId,
                                               const std::string& layerPattern,
                                               const JobContext& job) {
    c10::InferenceMode inference;
    waitForAbandonedWork();
    const CancelScope cancelInKernels(job.cancel);
    const ExperimentRecord experiment = analysableExperiment(session, store, experimentId, job);
    const std::string key = statisticsKeyOf(experiment, store, cache);
    const MethodConfig compression =
        MethodConfig::parse(experiment.compression, MethodKind::Compression);

    std::vector<std::string> pending;
    for (const LayerRecord& layer : store.layers(experimentId))
        if (layer.curveEora.empty())
            pending.push_back(layer.name);
    LayerSelection selection;
    selection.include = {layerPattern};
    std::vector<SelectedLinear> todo;
    for (const SelectedLinear& s : selectLinears(session.checkpoint(), selection))
        if (std::find(pending.begin(), pending.end(), s.name) != pending.end())
            todo.push_back(s);

    const auto statistics = savedStatistics(cache, key, session.model().device());
    std::vector<std::string> done;
    LayerInputStats stats; // of the block being analysed: each site read once, not per linear
    int64_t statsBlock = -1;
    for (const SelectedLinear& s : todo) {
        job.cancel.throwIfCancelled();
        job.report("analyse", int64_t(done.size()), int64_t(todo.size()), s.name);
        if (s.block != statsBlock) {
            SiteMask sites = 0;
            for (const SelectedLinear& t : todo)
                if (t.block == s.block)
                    sites |= siteBit(inputSiteOf(t.kind));
            stats = {}; // frees the previous block's C before reading the next
            stats = statistics->collect(s.block, job, sites);
            statsBlock = s.block;
        }
        const InputStats& st = stats.forLinear(s.kind);
        const at::Tensor weight = session.model().linearWeight(s.block, s.kind).to(at::kFloat);
        const at::Tensor dW = weight - compressWeight(compression, weight, &st, s.name).weight;
        LayerRecord row;
        row.name = s.name;
        storeAnalysis(analyzeLayer(weight, dW, st, s.name), row);
        store.setLayerAnalysis(experimentId, row);
        done.push_back(s.name);
    }
    job.report("analyse", int64_t(done.size()), int64_t(todo.size()));
    return done;
}

} // namespace rs
