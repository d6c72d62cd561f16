#pragma once

// The state and steps shared by the low-rank job's block loops (LoRD's calibrated passes and
// Lillama's distillation). Internal to the pipeline library.

#include "calib/stats.h"
#include "factorize/allocation.h"
#include "factorize/lord.h"
#include "model/llama.h"
#include "pipeline/lowrank_job.h"
#include "pipeline/site_analyses.h"
#include "pipeline/stage_clock.h"

#include <ATen/ATen.h>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rs {

class ModelSession;

namespace lowrank_run {

// The layer's dense weight in float32, as the checkpoint has it (the block is built if needed).
at::Tensor originalWeight(const LlamaModel& model, const SelectedLinear& s);

// Swaps layers between their original dense form and factor-only form (a changed block stays
// pinned in the model until it is reset to the checkpoint's weights); restores every selected
// block when the job ends, however it ends.
class FactorInstaller {
public:
    FactorInstaller(LlamaModel& model, const std::vector<SelectedLinear>& selected)
        : m_model(model)
        , m_selected(selected) {}
    ~FactorInstaller() { restoreAll(); }
    void install(size_t i, const LowRankFactors& f) {
        const SelectedLinear& s = m_selected[i];
        Linear& linear = m_model.layer(s.block).linear(s.kind);
        const auto options = linear.factorOnly() ? linear.loraA.options() : linear.weight.options();
        linear.weight = at::Tensor();
        linear.loraA = f.A.to(options).contiguous();
        linear.loraB = f.B.to(options).contiguous();
    }
    void restoreBlock(int64_t block) { m_model.resetLayer(block); }
    void restoreAll() {
        for (const SelectedLinear& s : m_selected)
            m_model.resetLayer(s.block);
    }

private:
    LlamaModel& m_model;
    const std::vector<SelectedLinear>& m_selected;
};

// Runs decoder layer `block` over every window in batches; the hook (if any) sees its inputs.
at::Tensor runBlock(LlamaModel& model, int64_t block, const at::Tensor& hidden, int64_t batch,
                    const JobContext& job);

// Perplexity passes carried through the blocks with the job: the original model's and one per
// variant, each variant's factors installed in a block only while its windows go through it.
struct EvalPasses {
    std::unique_ptr<StreamingPerplexity> baseline;
    std::vector<std::unique_ptr<StreamingPerplexity>> variants;
};

// Everything the block loops of one job share. Factors live only while their block is in the
// model: they are handed to hooks.factored, run through the evaluation passes and dropped.
struct LowRankRun {
    LowRankRun(const LowRankRequest& request_, const JobContext& job_, const LowRankHooks& hooks_,
               LlamaModel& model_, LowRankResult& result_, StageClock& clock_,
               std::vector<SelectedLinear> selected_, std::vector<FactorShape> shapes_)
        : request(request_)
        , job(job_)
        , hooks(hooks_)
        , model(model_)
        , result(result_)
        , clock(clock_)
        , selected(std::move(selected_))
        , shapes(std::move(shapes_))
        , installer(model_, selected)
        , quiet{{}, job_.cancel, job_.memory, job_.group} {}

    const LowRankRequest& request;
    const JobContext& job;
    const LowRankHooks& hooks;
    LlamaModel& model;
    LowRankResult& result;
    StageClock& clock;
    const std::vector<SelectedLinear> selected;
    const std::vector<FactorShape> shapes;
    std::vector<std::vector<int64_t>> ranks; // [variant][layer]
    FactorInstaller installer;
    bool optimal = false;
    std::vector<std::map<size_t, LowRankFactors>> factors; // [variant] of the current block
    EvalPasses passes;
    JobContext quiet;      // the passes' context: cancellation and memory, no progress of their own
    SiteAnalyses analyses; // of block analysesBlock's linears
    int64_t analysesBlock = -1;

    std::vector<size_t> inBlock(int64_t k) const {
        std::vector<size_t> out;
        for (size_t i = 0; i < selected.size(); ++i)
            if (selected[i].block == k)
                out.push_back(i);
        return out;
    }
    bool factored(size_t v, size_t i) const { return ranks[v][i] != kDenseRank; }
    bool anyFactored(size_t i) const {
        return std::any_of(ranks.begin(), ranks.end(),
                           [&](const std::vector<int64_t>& r) { return r[i] != kDenseRank; });
    }
};

// The evaluation passes of the request's text, if any: the baseline's and one per variant.
void startPasses(LowRankRun& run, const ModelSession& session);
void finishBaseline(LowRankRun& run);
void finishVariantPass(LowRankRun& run, size_t v);
// Hands variant v's factored linears of block k to the hook.
void handOver(LowRankRun& run, size_t v, int64_t k);
// The rank a layer's basis is built for: the largest of its variants, or (optimal allocation)
// its break-even rank, which bounds every rank the planner may give it.
int64_t basisRank(const LowRankRun& run, size_t i);
// Every variant's factors of layer i from one basis, and their error on the calibration inputs.
void factorLayer(LowRankRun& run, size_t i, const CompensationBasis& basis, const at::Tensor& w,
                 const at::Tensor& gram);

// What fitLayer makes of a layer's basis besides its energy and analysis.
enum class Fit {
    AnalysisOnly, // Lillama: its factors start from the weight SVD at each variant's rank
    Curve,        // optimal allocation, first pass: the basis's error curve
    Factors,      // every variant's factors
};

// Layer i's output energy and analysis, and what `fit` asks of its basis.
void fitLayer(LowRankRun& run, size_t i, const InputStats& stats, Fit fit,
              std::vector<std::vector<double>>* curves = nullptr);

// A job spread over several processes fits each of a block's linears on one rank (costliest
// first, to the least loaded): the owner of each of `inBlock` (all this rank's in one process).
std::vector<int> fitOwners(const LowRankRun& run, const std::vector<size_t>& inBlock);
bool ownFit(const LowRankRun& run, int owner);
// Hands each fit from its owner to the other ranks: the report's energy, errors and analysis,
// every variant's factors and (with `curves`) the error curve. Nothing in one process.
void exchangeFits(LowRankRun& run, const std::vector<size_t>& inBlock,
                  const std::vector<int>& owners, std::vector<std::vector<double>>* curves);

// Lillama: per variant, each block's factors start from the weight SVD and are distilled
// against the original block's output; the variant's evaluation pass follows it block by block.
void runLillama(LowRankRun& run, const ModelSession& session, const at::Tensor& windows,
                int64_t batch);

} // namespace lowrank_run
} // namespace rs
