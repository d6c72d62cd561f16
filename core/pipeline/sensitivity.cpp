#include "pipeline/sensitivity.h"

#include "dist/communicator.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "store/sensitivity.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <map>

namespace rs {

namespace {

std::string escapeRegex(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos)
            out += '\\';
        out += c;
    }
    return out;
}

} // namespace

std::vector<double> layerSensitivities(ModelSession& session, ExperimentStore& store,
                                       const StoredCurves& curves, int64_t maxWindows,
                                       const JobContext& job) {
    const ExperimentRecord& e = curves.experiment;
    const std::string what = "experiment " + std::to_string(e.id);
    CompressRequest request = compressRequestOf(e);
    if (request.inputs.evalText.empty() || !e.evalDatasetId)
        fail(what, "has no evaluation text to measure layer sensitivities on");
    const auto calib = e.calibDatasetId ? store.dataset(*e.calibDatasetId) : std::nullopt;
    const auto eval = store.dataset(*e.evalDatasetId);
    if (!calib || !eval)
        fail(what, "its text records are missing");
    const std::string key =
        sha256Hex("rankscope sensitivity 1\nmodel " + curves.model.contentHash + "\ncompression " +
                  e.compression + "\ncalib " + calib->contentHash + " " + e.calibMode + " " +
                  std::to_string(e.calibTokens) + " " + std::to_string(e.calibSeqLen) + "\neval " +
                  eval->contentHash + " " + std::to_string(maxWindows) + "\ndtype " +
                  session.computeDtype() + "\n");

    std::map<std::string, SensitivityRecord> known;
    for (SensitivityRecord& r : loadSensitivities(store, key))
        known[r.layer] = r;
    std::optional<double> baseline;
    std::vector<double> out;
    const int64_t count = int64_t(curves.layers.size());
    for (int64_t i = 0; i < count; ++i) {
        const std::string& layer = curves.layers[size_t(i)].name;
        job.report("sensitivity", i, count, layer);
        auto it = known.find(layer);
        if (it == known.end()) {
            CompressRequest one = request;
            one.compensations = {MethodConfig::defaults("none", MethodKind::Compensation)};
            one.plan.reset();
            one.inputs.layers.include = {"^" + escapeRegex(layer) + "$"};
            one.inputs.layers.exclude.clear();
            one.inputs.analyze = false;
            one.heldoutTokens = 0;
            one.inputs.eval.maxWindows = maxWindows;
            one.inputs.evaluateBaseline = !baseline;
            // A compression that never reads the statistics (RTN, magnitude pruning): one window
            // (per process) is enough to satisfy the job, and saves a calibration pass per layer.
            if (!curves.compression.spec().traits.readsStatistics)
                one.inputs.calibTokens = std::min<int64_t>(one.inputs.calibSeqLen, 512) *
                                         (distributed(job) ? job.group->size() : 1);
            const CompressResult r = runCompression(session, one, job);
            if (r.baseline)
                baseline = r.baseline->perplexity;
            SensitivityRecord record{layer, r.variants.front().perplexity->perplexity, *baseline,
                                     r.variants.front().perplexity->predictedTokens};
            saveSensitivity(store, key, record);
            it = known.emplace(layer, record).first;
        }
        out.push_back(it->second.perplexity - it->second.baseline);
    }
    job.report("sensitivity", count, count);
    return out;
}

} // namespace rs
