#pragma once

#include "compensate/compensation.h"
#include "eval/perplexity.h"
#include "factorize/lillama.h"
#include "methods/registry.h"
#include "pipeline/compress_job.h"
#include "util/progress.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ModelSession;

// A LoRD or Lillama run (docs/design.md §2, "Seed methods beyond EoRA"): the selected dense linears
// are replaced by factor pairs. Every variant is one rank allocation; the model runs the
// factored layers as two matmuls.
struct LowRankRequest {
    JobInputs inputs; // with analyze: the error curves of weight SVD and data-aware per layer
    MethodConfig method = MethodConfig::defaults("lord-data", MethodKind::LowRank);
    // Ranks, by the first of these that is set: a per-layer plan (a budget plan; layers it does
    // not name get plan.uniform), one uniform rank, else one variant per parameter reduction
    // (percent of the selected linears' weights, spread by the method's allocation parameter).
    std::optional<RankPlan> plan;
    int64_t uniformRank = 0;
    std::vector<double> reductions{20.0};
};

struct LowRankVariant {
    std::string label;            // "lord-data@20%", "lillama@r8", "lord-weight@plan"
    double targetReduction = 0.0; // percent; 0 when ranks were given
    int64_t uniformRank = 0;      // the uniform rank; -1 for a plan; 0 for a reduction
    int64_t parametersBefore = 0; // weights of the selected linears, dense
    int64_t parametersAfter = 0;  // the same after factoring (dense layers count in full)
    double reductionPercent() const;
    std::optional<PerplexityResult> perplexity;
    std::vector<LayerDistillation> distillation; // Lillama: one per decoder block distilled
};

struct LowRankLayerReport {
    std::string name;
    int64_t block = 0;
    std::string kind; // "q_proj", ...
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
    double outputEnergy = 0.0;      // tr(W C W^T) on the calibration inputs of the original model
    std::vector<int64_t> ranks;     // per variant; kDenseRank (-1) when the layer stays dense
    std::vector<double> errorAfter; // per variant: tr((W-BA) C (W-BA)^T) / tr(W C W^T)
    // With request.analyze: spectra of C and W; curves.svd is the weight SVD's error and
    // curves.eora the data-aware optimum, both E(r) on the calibration inputs (W_c = 0, dW = W).
    std::optional<LayerAnalysis> analysis;

    int64_t parametersAt(size_t variant) const;
    double rankReductionPercent(size_t variant) const;      // 100 (1 - r / min(d_out, d_in))
    double parameterReductionPercent(size_t variant) const; // 100 (1 - r (d_out+d_in) / d_out d_in)
};

struct LowRankResult {
    std::vector<LowRankVariant> variants;
    std::vector<LowRankLayerReport> layers;
    std::optional<PerplexityResult> baseline;
    int64_t calibrationTokens = 0;
    std::vector<std::pair<std::string, double>> stageSeconds;
};

// One factored linear of a variant: what a factorized export writes (ExportLinear with no base).
struct FactoredLinear {
    std::string name;
    const LowRankFactors* factors = nullptr;
};

struct LowRankHooks {
    // Variants and ranks known (at the start; for an optimal plan, which needs every layer's
    // curve, after a first pass of decompositions), then every layer report complete (LoRD:
    // before the output head gives the perplexities; Lillama: after the last variant).
    std::function<void(const LowRankResult&)> planned;
    std::function<void(const LowRankResult&)> layersDone;
    std::function<void(size_t variant, const LayerDistillation&)> distilled; // Lillama, per block
    std::function<void(std::optional<size_t> variant, const PerplexityResult&)> evaluated;
    // Per variant and decoder block, in block order, as soon as the block is factored: its
    // factored linears (pointers valid during the call only; layers kept dense are not listed).
    // Nothing of a block outlives it, so a consumer that keeps them writes them out.
    std::function<void(size_t variant, const std::vector<FactoredLinear>&)> factored;
};

// Fails (an ArgumentError naming the layer or the budget) when the request's ranks or reductions
// cannot be met on the session's model; cheap, so callers check before recording anything.
void requireFeasibleRanks(const ModelSession& session, const LowRankRequest& request);

// Runs the request on the session's model (restored to its original weights when the job ends,
// also on failure or cancellation). Stages: "calibrate", "curves" (progress of the first of the
// optimal allocation's two passes), "factor", "distill" (Lillama), "evaluate". Fails naming the
// layer for a rank beyond min(d_out, d_in), NaN weights, and names the budget when a reduction
// cannot be met.
LowRankResult runLowRank(ModelSession& session, const LowRankRequest& request,
                         const JobContext& job = {}, const LowRankHooks& hooks = {});

} // namespace rs
