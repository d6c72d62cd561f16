#pragma once

#include "calib/layerwise.h"
#include "util/progress.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace rs {

// Where a job gets the input statistics of each decoder layer: forward passes through the
// model (a LayerwiseCalibrator), or statistics saved by an earlier run with the same model,
// text and settings. Called in layer order: collect(k) then, for streaming sources, advance(k).
// `sites` names the inputs the job needs; a source may return more (sites outside it may be
// left empty).
class LayerStatsSource {
public:
    virtual ~LayerStatsSource() = default;
    virtual LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask sites) = 0;
    // Moves the activations past layer `layer` (nothing to do for saved statistics).
    virtual void advance(int64_t layer, const JobContext& job) = 0;
    // Both, for a layer that stays as it is in between (one forward pass where possible).
    virtual LayerInputStats collectAndAdvance(int64_t layer, const JobContext& job,
                                              SiteMask sites) {
        LayerInputStats stats = collect(layer, job, sites);
        advance(layer, job);
        return stats;
    }
};

// Forward passes, one decoder layer at a time.
class CalibratingSource final : public LayerStatsSource {
public:
    CalibratingSource(LlamaModel& model, const at::Tensor& windows, const JobContext& job = {})
        : m_calibrator(model, windows, 0, job) {}
    LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask sites) override {
        return m_calibrator.collect(layer, job, sites);
    }
    void advance(int64_t layer, const JobContext& job) override {
        m_calibrator.advance(layer, job);
    }
    LayerInputStats collectAndAdvance(int64_t layer, const JobContext& job,
                                      SiteMask sites) override {
        return m_calibrator.collectAndAdvance(layer, job, sites);
    }

private:
    LayerwiseCalibrator m_calibrator;
};

// Which statistics a job asks for: the calibration set's in parallel mode (the original model's
// activations, reusable across runs) or the held-out text's. Sequential calibration depends on
// the methods and is always computed.
enum class StatsRole { Calibration, Heldout };

struct StatsRequest {
    StatsRole role = StatsRole::Calibration;
    int64_t tokens = 0; // tokens of the windows
    int64_t seqLen = 0;
    // Creates the forward-pass source; a provider calls it only when it has nothing saved.
    std::function<std::unique_ptr<LayerStatsSource>()> calibrate;
};

// Decides the source of reusable statistics (see ExperimentRecorder for the cached one).
using StatsProvider = std::function<std::unique_ptr<LayerStatsSource>(const StatsRequest&)>;

} // namespace rs
