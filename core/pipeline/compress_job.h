#pragma once

#include "calib/layerwise.h"
#include "compensate/compensation.h"
#include "compress/compress.h"
#include "eval/perplexity.h"
#include "methods/registry.h"
#include "pipeline/job_inputs.h"
#include "pipeline/stats_source.h"
#include "util/progress.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ModelSession;

// Per-layer ranks: a uniform rank, overridden per layer by exact name.
struct RankPlan {
    int64_t uniform = 0;
    std::map<std::string, int64_t> perLayer;
    int64_t rankFor(const std::string& layer) const;
};

struct CompressRequest {
    JobInputs inputs;
    CalibrationMode mode = CalibrationMode::Parallel;
    MethodConfig compression = MethodConfig::defaults("rtn", MethodKind::Compression);
    std::vector<MethodConfig> compensations; // each one becomes variants (one per rank)
    std::vector<int64_t> ranks{8};           // uniform ranks to try
    std::optional<RankPlan> plan;            // per-layer ranks instead of `ranks`
    int64_t heldoutTokens = 4096; // held-out activations from evalText for per-layer errors
};

// One compensated model of a job: a compensation method at a rank (or plan).
struct Variant {
    MethodConfig compensation;
    int64_t rank = 0;          // uniform rank; -1 when a per-layer plan is used
    std::string label() const; // "eora@8", "none"
    int64_t adapterParameters = 0;
    std::optional<PerplexityResult> perplexity;
};

struct LayerReport {
    std::string name;
    int64_t block = 0;
    std::string kind;
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
    double sparsity = 0.0;
    int64_t discardedModes = 0; // of the first EoRA variant (0 without EoRA)
    double outputEnergy = 0.0;  // tr(W C W^T), calibration
    double errorEnergy = 0.0;   // tr(dW C dW^T), calibration
    double heldoutOutputEnergy = 0.0;
    double heldoutErrorEnergy = 0.0;
    std::vector<int64_t> ranks;            // per variant
    std::vector<double> errorAfter;        // per variant: E(B, A) / tr(W C W^T), calibration
    std::vector<double> heldoutErrorAfter; // per variant, on held-out activations
    std::optional<LayerAnalysis> analysis;

    double relativeErrorBefore() const;
    double heldoutRelativeErrorBefore() const;
};

struct CompressResult {
    std::vector<Variant> variants;
    std::vector<LayerReport> layers;
    std::optional<PerplexityResult> baseline;
    int64_t calibrationTokens = 0;
    int64_t heldoutTokens = 0;
    std::vector<std::pair<std::string, double>> stageSeconds; // in order of first use
};

// One selected linear of a variant as the job built it (see CompressHooks::compressed).
struct CompressedLinear {
    std::string name;
    const CompressedWeight* compressed = nullptr; // W_c, with its quantization grid if any
    const LowRankFactors* factors = nullptr;      // the variant's low-rank path (rank 0: none)
};

// Optional observers and sources of a run (the experiment store uses them to record a run as it
// goes and to reuse saved statistics).
struct CompressHooks {
    StatsProvider stats; // reusable statistics (parallel calibration, held-out); forward passes
                         // when unset
    // Once the variants are known (result.variants filled, nothing computed yet).
    std::function<void(const CompressResult& result)> planned;
    // After every decoder layer: result.layers[first .. first + count) are complete.
    std::function<void(const CompressResult& result, size_t first, size_t count)> layerDone;
    // After every perplexity: variant index, or nullopt for the original model.
    std::function<void(std::optional<size_t> variant, const PerplexityResult& perplexity)>
        evaluated;
    // Once per variant and decoder block, when the block is done: the block's selected linears
    // with their W_c, grid and factors (pointers valid during the call only; the job keeps
    // nothing of a block after it). Exports use it; when set, the job keeps the quantization
    // grids it otherwise drops.
    std::function<void(size_t variant, const std::vector<CompressedLinear>& linears)> compressed;
};

// Fails (ArgumentError, naming the layer) when a requested rank, uniform or from the plan,
// exceeds min(d_out, d_in) of a selected linear: a mistake in the call, found before any work.
void requireRanksFit(const CompressRequest& request, const std::vector<SelectedLinear>& selected);

// Compresses the selected linears of the session's model, fits every requested compensation
// at every rank from one decomposition per layer, reports per-layer errors (calibration and
// held-out) and, with an evaluation text, the perplexity of every variant. The session's model
// is restored to its original weights when the job ends, also on failure or cancellation.
// Progress: the set-up's own stages (reading and tokenising the texts), then one stage,
// "compress", over the block loop and the output head (pipeline/compress_progress.h).
CompressResult runCompression(ModelSession& session, const CompressRequest& request,
                              const JobContext& job = {}, const CompressHooks& hooks = {});

} // namespace rs
