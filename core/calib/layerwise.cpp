#include "calib/layerwise.h"

#include "dist/communicator.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>
#include <cmath>
#include <optional>

namespace rs {

namespace {

// Hidden states of a batch of windows passed through one layer stay below this.
constexpr int64_t kActivationBudgetBytes = 64LL << 20;

// Restores the model's previous linear-input hook when a collection ends, also on exceptions.
class HookScope {
public:
    HookScope(LlamaModel& model, LinearInputHook hook)
        : m_model(model) {
        m_model.setLinearInputHook(std::move(hook));
    }
    ~HookScope() { m_model.setLinearInputHook({}); }

private:
    LlamaModel& m_model;
};

} // namespace

const char* calibrationModeName(CalibrationMode mode) {
    return mode == CalibrationMode::Parallel ? "parallel" : "sequential";
}

at::Tensor calibrationWindows(const std::vector<int32_t>& tokens, int64_t seqLen, int64_t maxTokens,
                              const std::string& source) {
    if (seqLen < 2)
        fail(source, "calibration window length must be at least 2");
    int64_t usable = static_cast<int64_t>(tokens.size());
    if (maxTokens > 0)
        usable = std::min(usable, maxTokens);
    const int64_t windows = usable / seqLen;
    if (windows < 1)
        fail(source, "too short for one calibration window of " + std::to_string(seqLen) +
                         " tokens (" + std::to_string(usable) + " tokens)");
    std::vector<int64_t> ids(tokens.begin(), tokens.begin() + windows * seqLen);
    return at::tensor(ids, at::kLong).view({windows, seqLen});
}

at::Tensor shareOfWindows(const at::Tensor& windows, const Communicator* group) {
    if (!group)
        return windows;
    const auto [first, count] = group->share(windows.size(0), "calibration windows");
    return windows.narrow(0, first, count);
}

void sumOverRanks(InputStats& stats, Communicator& group) {
    group.sum(stats.gram);
    const auto tokens = static_cast<double>(stats.tokens);
    at::Tensor weighted = at::cat(
        {stats.meanAbs * tokens, at::full({1}, tokens, at::kDouble).to(stats.meanAbs.device())});
    group.sum(weighted);
    const int64_t dim = stats.meanAbs.size(0);
    stats.tokens = static_cast<int64_t>(std::llround(weighted[dim].item<double>()));
    stats.meanAbs = weighted.narrow(0, 0, dim) / static_cast<double>(stats.tokens);
}

LayerwiseCalibrator::LayerwiseCalibrator(LlamaModel& model, const at::Tensor& allWindows,
                                         int64_t batchSize, const JobContext& job)
    : m_model(model)
    , m_group(distributed(job) ? job.group : nullptr) {
    c10::InferenceMode inference;
    m_tokens = allWindows.numel();
    const at::Tensor windows = shareOfWindows(allWindows, m_group.get());
    const int64_t perWindow = windows.size(1) *
                              std::max(model.config().hiddenSize, model.config().intermediateSize) *
                              4 * 4;
    m_batch = batchSize > 0
                  ? batchSize
                  : std::clamp<int64_t>(kActivationBudgetBytes / perWindow, 1, windows.size(0));
    const at::Tensor first = m_model.embed(windows.narrow(0, 0, 1));
    m_hidden = CarriedStates({windows.size(0), windows.size(1), first.size(2)}, first.options(),
                             job, "calibration hidden states");
    for (int64_t start = 0; start < windows.size(0); start += m_batch) {
        const int64_t count = std::min(m_batch, windows.size(0) - start);
        m_hidden.tensor()
            .narrow(0, start, count)
            .copy_(m_model.embed(windows.narrow(0, start, count)));
    }
}

LayerwiseCalibrator::~LayerwiseCalibrator() = default;

int64_t LayerwiseCalibrator::tokens() const {
    return m_tokens;
}

LayerInputStats LayerwiseCalibrator::collect(int64_t index, const JobContext& job, SiteMask sites) {
    return run(index, sites, false, job);
}

void LayerwiseCalibrator::advance(int64_t index, const JobContext& job) {
    run(index, 0, true, job);
}

LayerInputStats LayerwiseCalibrator::collectAndAdvance(int64_t index, const JobContext& job,
                                                       SiteMask sites) {
    return run(index, sites, true, job);
}

LayerInputStats LayerwiseCalibrator::run(int64_t index, SiteMask sites, bool advanceStates,
                                         const JobContext& job) {
    const bool collectStats = sites != 0;
    if (index != m_nextLayer && !collectStats)
        fail("calibration", "cannot advance past layer " + std::to_string(index) +
                                " before layer " + std::to_string(m_nextLayer));
    if (index != m_nextLayer)
        fail("calibration", "layer " + std::to_string(index) +
                                " requested while the inputs of layer " +
                                std::to_string(m_nextLayer) + " are ready");
    c10::InferenceMode inference;
    LayerInputStats stats;
    std::optional<HookScope> scope;
    if (collectStats)
        scope.emplace(m_model, [&](int64_t layer, InputSite site, const at::Tensor& x) {
            if (layer == index && (sites & siteBit(site))) {
                stats.of(site).accumulate(x);
                // A batch through a large block takes seconds; the block's partial outputs are
                // only temporaries, so stopping between its sites is safe.
                job.cancel.throwIfCancelled();
            }
        });
    at::Tensor& hidden = m_hidden.tensor();
    const int64_t windows = hidden.size(0);
    for (int64_t first = 0; first < windows; first += m_batch) {
        job.cancel.throwIfCancelled();
        const int64_t count = std::min(m_batch, windows - first);
        at::Tensor batch = hidden.narrow(0, first, count);
        const at::Tensor out = m_model.decoderLayer(index, batch);
        if (advanceStates)
            batch.copy_(out);
    }
    if (collectStats)
        for (InputStats& site : stats.sites) {
            if (m_group && site.gram.defined())
                sumOverRanks(site, *m_group);
            site.symmetrize();
            if (!site.finite())
                fail(m_model.source().string(),
                     "calibration: decoder layer " + std::to_string(index) +
                         " produced non-finite activations; its weights are finite, so they "
                         "overflow " +
                         m_model.computeDtype() + " (try --dtype float32)");
        }
    if (advanceStates)
        ++m_nextLayer;
    return stats;
}

} // namespace rs
