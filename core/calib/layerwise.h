#pragma once

#include "calib/stats.h"
#include "model/carried.h"
#include "model/llama.h"
#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace rs {

class Communicator;

// Input statistics of the four distinct linear inputs of one decoder layer.
struct LayerInputStats {
    std::array<InputStats, 4> sites; // indexed by InputSite

    InputStats& of(InputSite site) { return sites[static_cast<size_t>(site)]; }
    const InputStats& of(InputSite site) const { return sites[static_cast<size_t>(site)]; }
    const InputStats& forLinear(LinearKind kind) const { return of(inputSiteOf(kind)); }
};

// Which of a layer's input sites to gather statistics for (bit i: InputSite i). A job that
// compresses some linears only skips the Gram matrices (d_in^2 float64 each) of the others.
using SiteMask = unsigned;
inline constexpr SiteMask kAllSites = 0xFu;
inline constexpr SiteMask siteBit(InputSite site) {
    return 1u << static_cast<unsigned>(site);
}

enum class CalibrationMode {
    Parallel,   // statistics from the original model's activations
    Sequential, // layer k sees inputs that went through the compressed layers 0..k-1
};
const char* calibrationModeName(CalibrationMode mode);

// This rank's contiguous share of the windows of a job spread over several processes (all of them
// without a group).
at::Tensor shareOfWindows(const at::Tensor& windows, const Communicator* group);

// The statistics of every rank's windows, on every rank: C and the token counts summed in
// float64, the mean |x| weighted by each rank's tokens.
void sumOverRanks(InputStats& stats, Communicator& group);

// Cuts a token stream into calibration windows [windows, seqLen], keeping at most maxTokens
// tokens (0: all). Fails when the stream holds less than one window.
at::Tensor calibrationWindows(const std::vector<int32_t>& tokens, int64_t seqLen, int64_t maxTokens,
                              const std::string& source);

// Streams calibration windows through the model one decoder layer at a time, so that memory
// holds one layer's activations (the hidden states of every window) plus that layer's
// statistics, whatever the depth of the model. The caller decides the order:
//   parallel:   collect(k), advance(k), then compress layer k
//   sequential: collect(k), compress layer k, then advance(k) through the compressed layer
//   or collectAndAdvance(k), which runs the layer once for both (parallel mode).
// The hidden states are CarriedStates under the job's memory budget (spilled to disk beyond it).
// In a job spread over several processes (job.group), each rank streams its share of the windows
// and the statistics are summed over the ranks in float64: every rank gets the whole job's.
class LayerwiseCalibrator {
public:
    LayerwiseCalibrator(LlamaModel& model, const at::Tensor& windows, int64_t batchSize = 0,
                        const JobContext& job = {});
    ~LayerwiseCalibrator();

    // Statistics of layer `index`'s linear inputs on the current hidden states.
    // Sites outside `sites` are left empty.
    LayerInputStats collect(int64_t index, const JobContext& job = {}, SiteMask sites = kAllSites);
    // Replaces the hidden states by layer `index`'s output, as the layer is in the model now.
    void advance(int64_t index, const JobContext& job = {});
    // collect() and advance() with one pass through the layer (valid when the layer does not
    // change between the two, as in parallel calibration).
    LayerInputStats collectAndAdvance(int64_t index, const JobContext& job = {},
                                      SiteMask sites = kAllSites);

    int64_t tokens() const; // of every rank
    int64_t nextLayer() const { return m_nextLayer; }

private:
    LlamaModel& m_model;
    LayerInputStats run(int64_t index, SiteMask sites, bool advanceStates, const JobContext& job);

    CarriedStates m_hidden; // [windows, seqLen, hidden], this rank's share
    int64_t m_tokens = 0;   // of every rank
    std::shared_ptr<Communicator> m_group;
    int64_t m_batch = 1;
    int64_t m_nextLayer = 0;
};

} // namespace rs
