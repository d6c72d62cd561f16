#pragma once

#include "budget/constraints.h"
#include "budget/units.h"
#include "budget/weights.h"
#include "pipeline/compress_job.h"

#include <optional>
#include <string>
#include <vector>

namespace rs {

class ArtefactCache;
class ExperimentStore;
class ModelSession;

struct TradeoffRequest {
    // Calibration, evaluation and layer settings; its compression and compensations are replaced
    // by the sweep. evalText is required: the chosen front points are evaluated on it.
    CompressRequest base;
    std::string method = "rtn"; // a registry compression with bits and group
    std::vector<int64_t> bits{2, 3, 4, 8};
    std::vector<int64_t> groups;     // empty: every group size the registry offers
    std::vector<BudgetSpec> budgets; // adapter budgets per configuration
    MethodConfig compensation = MethodConfig::defaults("eora", MethodKind::Compensation);
    LayerWeighting weighting = LayerWeighting::Energy;
    PlanConstraints constraints;
    int64_t evaluate = 8; // front points evaluated (spread along the front); 0: none
};

struct TradeoffRow {
    std::string compression; // "rtn:bits=3,group=32,sym=false"
    int64_t bits = 0;
    int64_t group = 0;
    std::string budget; // as written ("r8", "3.5bpw")
    int64_t adapterParameters = 0;
    double bitsPerWeight = 0.0;  // of the compressed layers with adapters
    double percentOfModel = 0.0; // adapter parameters, percent of the model's parameters
    double predictedError = 0.0; // sum_l w_l E_l(r_l) of the plan
    bool front = false;
    std::optional<double> perplexity;
    int64_t experimentId = 0; // the recorded evaluation, when evaluated
    std::string skipped;      // why the budget gave no plan (e.g. below the base size)
};

struct TradeoffResult {
    std::vector<TradeoffRow> rows;         // configurations in sweep order, budgets within
    std::optional<double> spearman;        // predicted error vs measured perplexity (>= 3 points)
    PerplexityResult protocol;             // of the evaluations (tokens, seq_len)
    std::vector<int64_t> curveExperiments; // the recorded sweep runs (curves only)
};

// For every bits x group: compress with calibration (recorded as an experiment, curves only),
// plan every budget optimally, predict the error and the size. Then take the Pareto front of
// (bits per weight, predicted error), evaluate up to `evaluate` front points with real
// perplexity (each recorded as an experiment with its plan) and correlate. Stage "tradeoff".
TradeoffResult runTradeoff(ModelSession& session, const TradeoffRequest& request,
                           ExperimentStore& store, ArtefactCache& cache,
                           const JobContext& job = {});

} // namespace rs
