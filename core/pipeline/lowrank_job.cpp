#include "pipeline/lowrank_job.h"

#include "budget/planner.h"
#include "calib/layerwise.h"
#include "calib/stats.h"
#include "dist/communicator.h"
#include "factorize/allocation.h"
#include "factorize/lord.h"
#include "io/checkpoint.h"
#include "model/llama.h"
#include "pipeline/distributed.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/lowrank_run.h"
#include "pipeline/session.h"
#include "pipeline/site_analyses.h"
#include "pipeline/stage_clock.h"
#include "util/error.h"
#include "util/interruptible.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <regex>

namespace rs {

namespace {

using namespace lowrank_run;

// Hidden states of one forward batch stay below this (as in calibration).
constexpr int64_t kActivationBudgetBytes = 64LL << 20;

// Variants and their per-layer ranks (kDenseRank: kept dense).
void planVariants(const LowRankRequest& request, const std::vector<SelectedLinear>& selected,
                  const std::vector<FactorShape>& shapes, LowRankResult& result,
                  std::vector<std::vector<int64_t>>& ranks) {
    const MethodConfig& method = request.method;
    const auto add = [&](LowRankVariant variant, const RankAllocation& allocation) {
        variant.parametersBefore = allocation.parametersBefore;
        variant.parametersAfter = allocation.parametersAfter;
        result.variants.push_back(std::move(variant));
        ranks.push_back(allocation.ranks);
    };
    if (request.plan) {
        std::vector<int64_t> planned;
        for (const SelectedLinear& s : selected)
            planned.push_back(request.plan->rankFor(s.name));
        add({method.id() + "@plan", 0.0, -1, 0, 0, std::nullopt, {}},
            evaluateAllocation(shapes, planned));
    } else if (request.uniformRank > 0) {
        add({method.id() + "@r" + std::to_string(request.uniformRank),
             0.0,
             request.uniformRank,
             0,
             0,
             std::nullopt,
             {}},
            allocateUniformRank(shapes, request.uniformRank));
    } else {
        if (request.reductions.empty())
            fail("low-rank request", "needs a parameter reduction, a uniform rank or a plan");
        const std::string allocation = method.text("allocation");
        for (double percent : request.reductions) {
            char label[64];
            std::snprintf(label, sizeof label, "%s@%g%%", method.id().c_str(), percent);
            // The optimal plan needs the error curves: its ranks come after the decompositions.
            add({label, percent, 0, 0, 0, std::nullopt, {}},
                allocation == "optimal"
                    ? RankAllocation{std::vector<int64_t>(shapes.size(), kDenseRank), 0, 0, 0}
                    : allocateForReduction(shapes, percent, parseAllocationStrategy(allocation),
                                           method.real("layer_fraction")));
        }
    }
}

LowRankLayerReport newReport(const SelectedLinear& s, size_t variants) {
    LowRankLayerReport r;
    r.name = s.name;
    r.block = s.block;
    const std::string suffix = linearSuffix(s.kind);
    r.kind = suffix.substr(suffix.find('.') + 1);
    r.outFeatures = s.outFeatures;
    r.inFeatures = s.inFeatures;
    r.ranks.assign(variants, kDenseRank);
    r.errorAfter.assign(variants, 0.0);
    return r;
}

// Budget-optimal ranks on the layers' relative error curves (each normalised by tr(W C W^T), so
// that every layer's output counts alike), each layer between rank 1 and its break-even rank.
RankAllocation plannedAllocation(const std::vector<FactorShape>& shapes,
                                 const std::vector<std::vector<double>>& curves, double percent) {
    std::vector<PlanLayer> layers;
    for (size_t i = 0; i < shapes.size(); ++i) {
        const FactorShape& s = shapes[i];
        const size_t top = size_t(std::max<int64_t>(1, std::min(s.breakEvenRank(), s.maxRank())));
        std::vector<double> curve(curves[i].begin(), curves[i].begin() + long(top) + 1);
        const double energy = curve.front();
        layers.push_back(
            {s.name, s.outFeatures, s.inFeatures, curve, energy > 0 ? 1.0 / energy : 0});
    }
    PlanConstraints constraints;
    constraints.minRank = 1;
    const RankPlanner planner(std::move(layers), constraints);
    RankAllocation a = evaluateAllocation(shapes, std::vector<int64_t>(shapes.size(), 1));
    a.budget = int64_t(std::floor((1.0 - percent / 100.0) * double(a.parametersBefore)));
    if (a.budget < planner.minParameters())
        fail("rank allocation", "cannot reach " + std::to_string(percent) +
                                    "% fewer parameters: rank 1 everywhere needs " +
                                    std::to_string(planner.minParameters()));
    const Plan plan = planner.optimal(std::min(a.budget, planner.maxParameters()));
    RankAllocation out = evaluateAllocation(shapes, plan.ranks);
    out.budget = a.budget;
    return out;
}

// Block k's factors are done: they go to the hook and through the evaluation passes (the
// baseline's too), then leave memory with the block.
void finishLordBlock(LowRankRun& run, int64_t k) {
    if (run.passes.baseline)
        run.passes.baseline->advance(k, run.quiet);
    for (size_t v = 0; v < run.result.variants.size(); ++v) {
        run.job.cancel.throwIfCancelled();
        handOver(run, v, k);
        if (v < run.passes.variants.size()) {
            for (size_t i : run.inBlock(k))
                if (run.factored(v, i))
                    run.installer.install(i, run.factors[v].at(i));
            run.passes.variants[v]->advance(k, run.quiet);
            run.installer.restoreBlock(k);
        }
        run.factors[v].clear();
    }
    run.model.releaseLayer(k);
}

// Optimal allocation: the variants' ranks from every layer's error curve.
void allocateOptimally(LowRankRun& run, const std::vector<std::vector<double>>& curves) {
    for (size_t v = 0; v < run.result.variants.size(); ++v) {
        LowRankVariant& variant = run.result.variants[v];
        const RankAllocation a = plannedAllocation(run.shapes, curves, variant.targetReduction);
        run.ranks[v] = a.ranks;
        variant.parametersBefore = a.parametersBefore;
        variant.parametersAfter = a.parametersAfter;
        for (size_t i = 0; i < run.selected.size(); ++i)
            run.result.layers[i].ranks[v] = a.ranks[i];
    }
}

// One calibrated pass over the blocks (parallel calibration: the original model's inputs): each
// selected linear of a block gets its statistics, then the block is finished. Spread over
// several processes, each linear is fitted by one rank and its fit (with `curves`, its curve)
// handed to the others before the block is finished.
void calibratedPass(LowRankRun& run, const at::Tensor& windows, const std::string& stage,
                    const std::function<void(size_t, const InputStats&)>& perLinear,
                    const std::function<void(int64_t)>& finishBlock,
                    std::vector<std::vector<double>>* curves = nullptr) {
    const int64_t layers = run.model.numLayers();
    LayerwiseCalibrator calibrator(run.model, windows, 0, run.job);
    run.clock.add("calibrate");
    for (int64_t k = 0; k < layers; ++k) {
        run.job.report(stage, k, layers, "layer " + std::to_string(k));
        SiteMask sites = 0;
        for (size_t i : run.inBlock(k))
            sites |= siteBit(inputSiteOf(run.selected[i].kind));
        // Statistics only where a selected linear reads (none: a plain pass through the block).
        const LayerInputStats stats = calibrator.collectAndAdvance(k, run.job, sites);
        run.clock.add("calibrate");
        const std::vector<size_t> inBlock = run.inBlock(k);
        const std::vector<int> owners = fitOwners(run, inBlock);
        for (size_t n = 0; n < inBlock.size(); ++n) {
            run.job.cancel.throwIfCancelled();
            if (ownFit(run, owners[n]))
                perLinear(inBlock[n], stats.forLinear(run.selected[inBlock[n]].kind));
        }
        run.clock.add("factor");
        if (distributed(run.job)) {
            exchangeFits(run, inBlock, owners, curves);
            run.clock.add("exchange");
        }
        finishBlock(k);
    }
    run.job.report(stage, layers, layers);
}

// LoRD: one calibrated pass, factoring each block as its statistics arrive. The optimal
// allocation needs every curve first, so it makes two passes (curves, then factors at the
// allocated ranks) rather than hold every layer's statistics and basis.
void runLord(LowRankRun& run, const ModelSession& session, const at::Tensor& windows) {
    if (run.optimal) {
        std::vector<std::vector<double>> curves(run.selected.size());
        calibratedPass(
            run, windows, "curves",
            [&](size_t i, const InputStats& st) { fitLayer(run, i, st, Fit::Curve, &curves); },
            [&](int64_t k) { run.model.releaseLayer(k); }, &curves);
        allocateOptimally(run, curves);
        if (run.hooks.planned)
            run.hooks.planned(run.result);
    }
    startPasses(run, session);
    run.clock.add("evaluate");
    const auto factor = [&](size_t i, const InputStats& st) {
        if (!run.optimal) {
            fitLayer(run, i, st, Fit::Factors);
        } else if (const int64_t r = basisRank(run, i); r > 0 && run.anyFactored(i)) {
            const at::Tensor w = originalWeight(run.model, run.selected[i]);
            factorLayer(run, i, *buildLordBasis(run.request.method, w, st, r, run.selected[i].name),
                        w, st.gram);
        }
    };
    calibratedPass(run, windows, "factor", factor, [&](int64_t k) {
        finishLordBlock(run, k);
        run.clock.add("evaluate");
    });
}

std::vector<FactorShape> shapesOf(const std::vector<SelectedLinear>& selected) {
    std::vector<FactorShape> shapes;
    for (const SelectedLinear& s : selected)
        shapes.push_back({s.name, s.block, s.outFeatures, s.inFeatures});
    return shapes;
}

// One report per selected linear with its rank in every variant.
void addLayerReports(const std::vector<SelectedLinear>& selected,
                     const std::vector<std::vector<int64_t>>& ranks, LowRankResult& result) {
    for (const SelectedLinear& s : selected)
        result.layers.push_back(newReport(s, result.variants.size()));
    for (size_t v = 0; v < ranks.size(); ++v)
        for (size_t i = 0; i < selected.size(); ++i)
            result.layers[i].ranks[v] = ranks[v][i];
}

// The output head of every evaluation pass: the original model's and each variant's perplexity.
void finishEvaluation(LowRankRun& run) {
    if (!run.request.inputs.evalText.empty())
        run.job.report("evaluate", 0, 1, "output head");
    finishBaseline(run);
    for (size_t v = 0; v < run.result.variants.size(); ++v)
        finishVariantPass(run, v);
    run.clock.add("evaluate");
}

} // namespace

double LowRankVariant::reductionPercent() const {
    return parametersBefore > 0 ? 100.0 * (1.0 - double(parametersAfter) / double(parametersBefore))
                                : 0.0;
}

int64_t LowRankLayerReport::parametersAt(size_t variant) const {
    const int64_t r = ranks.at(variant);
    return r == kDenseRank ? outFeatures * inFeatures : r * (outFeatures + inFeatures);
}
double LowRankLayerReport::rankReductionPercent(size_t variant) const {
    const int64_t r = ranks.at(variant);
    return r == kDenseRank ? 0.0
                           : 100.0 * (1.0 - double(r) / double(std::min(outFeatures, inFeatures)));
}
double LowRankLayerReport::parameterReductionPercent(size_t variant) const {
    return 100.0 * (1.0 - double(parametersAt(variant)) / double(outFeatures * inFeatures));
}

void requireFeasibleRanks(const ModelSession& session, const LowRankRequest& request) {
    const std::vector<SelectedLinear> selected =
        selectLinears(session.checkpoint(), request.inputs.layers);
    LowRankResult planned;
    std::vector<std::vector<int64_t>> ranks;
    planVariants(request, selected, shapesOf(selected), planned, ranks);
}

LowRankResult runLowRank(ModelSession& session, const LowRankRequest& request,
                         const JobContext& job, const LowRankHooks& hooks) {
    c10::InferenceMode inference;
    waitForAbandonedWork(); // a cancelled job's last decomposition must not overlap this one
    const CancelScope cancelInKernels(job.cancel); // the decompositions of one layer take seconds
    if (request.method.kind() != MethodKind::LowRank)
        fail(request.method.id(),
             "is not a low-rank method (" + methodIds(MethodKind::LowRank) + ")");
    requireDenseModel(session, "low-rank factorization");
    requireSameRequest(job, session, request, lowRankRequestJson);
    LlamaModel& model = session.model();
    LowRankResult result;
    StageClock clock(result.stageSeconds);
    const bool distills = request.method.spec().traits.distills;

    std::vector<SelectedLinear> selected =
        selectLinears(session.checkpoint(), request.inputs.layers);
    std::vector<FactorShape> shapes = shapesOf(selected);
    std::vector<std::vector<int64_t>> ranks;
    planVariants(request, selected, shapes, result, ranks);
    addLayerReports(selected, ranks, result);

    LowRankRun run(request, job, hooks, model, result, clock, std::move(selected),
                   std::move(shapes));
    run.ranks = std::move(ranks);
    run.optimal = !distills && !request.plan && request.uniformRank <= 0 &&
                  request.method.text("allocation") == "optimal";
    run.factors.resize(result.variants.size());
    if (hooks.planned && !run.optimal)
        hooks.planned(result);

    const int64_t seqLen = std::min(request.inputs.calibSeqLen, model.config().maxPositions);
    const at::Tensor windows = calibrationWindows(
        tokenStream(session, request.inputs.calibText, request.inputs.calibTokens, job).tokens,
        seqLen, request.inputs.calibTokens, request.inputs.calibText.string());
    result.calibrationTokens = windows.numel();
    if (distills) {
        const int64_t perWindow = seqLen * model.config().hiddenSize * 4;
        runLillama(run, session, windows,
                   std::clamp<int64_t>(kActivationBudgetBytes / perWindow, 1, windows.size(0)));
        if (hooks.layersDone)
            hooks.layersDone(result);
        return result;
    }
    runLord(run, session, windows);
    if (hooks.layersDone)
        hooks.layersDone(result);
    finishEvaluation(run);
    return result;
}

} // namespace rs
