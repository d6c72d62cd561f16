#include "pipeline/compress_job.h"

#include "compress/compress.h"
#include "dist/communicator.h"
#include "io/checkpoint.h"
#include "model/llama.h"
#include "pipeline/compress_progress.h"
#include "pipeline/distributed.h"
#include "pipeline/linear_exchange.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "pipeline/site_analyses.h"
#include "pipeline/stage_clock.h"
#include "pipeline/variant_installer.h"
#include "util/argument_error.h"
#include "util/error.h"
#include "util/interruptible.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <regex>
#include <utility>

namespace rs {

namespace {

// Variants that share calibration statistics and W_c: all of them in parallel mode, each on its
// own in sequential mode (its compensated layers shape the inputs of the next ones).
struct Group {
    std::vector<size_t> variants;
    std::unique_ptr<LayerStatsSource> calibrator;
    std::map<std::string, at::Tensor> compressed; // W_c per layer name
    std::map<std::string, CompressedWeight> kept; // with grids, only for hooks.compressed
};

at::Tensor windowsFromText(const ModelSession& session, const std::filesystem::path& path,
                           int64_t seqLen, int64_t maxTokens, const JobContext& job) {
    return calibrationWindows(tokenStream(session, path, maxTokens, job).tokens, seqLen, maxTokens,
                              path.string());
}

} // namespace

int64_t RankPlan::rankFor(const std::string& layer) const {
    const auto it = perLayer.find(layer);
    return it == perLayer.end() ? uniform : it->second;
}

std::string Variant::label() const {
    if (!compensation.spec().fitsFactors())
        return compensation.id();
    std::string label = compensation.id();
    if (const int bits = factorBits(compensation); bits > 0)
        label += "/q" + std::to_string(bits);
    return label + "@" + (rank < 0 ? std::string("plan") : std::to_string(rank));
}

double LayerReport::relativeErrorBefore() const {
    return outputEnergy > 0 ? errorEnergy / outputEnergy : 0.0;
}
double LayerReport::heldoutRelativeErrorBefore() const {
    return heldoutOutputEnergy > 0 ? heldoutErrorEnergy / heldoutOutputEnergy : 0.0;
}

namespace {

// The source for reusable statistics: the provider's when there is one, else forward passes.
std::unique_ptr<LayerStatsSource> statsSource(const CompressHooks& hooks, StatsRole role,
                                              LlamaModel& model, const at::Tensor& windows,
                                              const JobContext& job) {
    StatsRequest request;
    request.role = role;
    request.tokens = windows.numel();
    request.seqLen = windows.size(1);
    request.calibrate = [&model, windows, job] {
        return std::make_unique<CalibratingSource>(model, windows, job);
    };
    return sharedStatsSource(job, hooks.stats, request, model.device());
}

// Variants: "none" once, every other compensation at every rank (or at the plan).
std::vector<Variant> planVariants(const CompressRequest& request) {
    std::vector<MethodConfig> compensations = request.compensations;
    if (compensations.empty())
        compensations.push_back(MethodConfig::defaults("none", MethodKind::Compensation));
    std::vector<Variant> variants;
    for (const MethodConfig& comp : compensations) {
        if (comp.kind() != MethodKind::Compensation)
            fail(comp.id(), "is not a compensation method");
        if (!comp.spec().fitsFactors()) {
            variants.push_back({comp, 0, 0, std::nullopt});
        } else if (request.plan) {
            variants.push_back({comp, -1, 0, std::nullopt});
        } else {
            if (request.ranks.empty())
                fail("ranks", "no rank given for " + comp.id());
            for (int64_t rank : request.ranks) {
                if (rank < 1)
                    fail("rank", "must be at least 1 (got " + std::to_string(rank) + ")");
                variants.push_back({comp, rank, 0, std::nullopt});
            }
        }
    }
    return variants;
}

int64_t variantRank(const Variant& variant, const CompressRequest& request,
                    const std::string& layer) {
    if (!variant.compensation.spec().fitsFactors())
        return 0;
    return variant.rank < 0 ? request.plan->rankFor(layer) : variant.rank;
}

// Everything the block loop of one job shares.
struct CompressRun {
    const CompressRequest& request;
    const JobContext& job;
    const CompressHooks& hooks;
    LlamaModel& model;
    CompressResult& result;
    StageClock& clock;
    Installer installer;
    std::vector<SelectedLinear> selected;
    std::vector<Group> groups;
    std::unique_ptr<LayerStatsSource> heldout;
    // Factors per variant and layer name (kept past their block only for hooks.compressed).
    std::vector<std::map<std::string, LowRankFactors>> factors;
    // The reports of the block in progress, until its linears are all done (they are added to
    // the result in the block's order, whichever rank computed them).
    std::map<std::string, LayerReport> pending;
    bool keepGrids = false; // W_c with its quantization grid, for hooks.compressed (rank 0's)
    // Perplexity passes carried through the blocks with the job: the original model's and one
    // per variant.
    std::unique_ptr<StreamingPerplexity> baselinePass;
    std::vector<std::unique_ptr<StreamingPerplexity>> variantPasses;
    JobContext quiet; // the passes' context: cancellation and memory, no progress of their own
    std::unique_ptr<CompressProgress> progress; // the job's progress over blocks and passes
};

LayerReport newReport(const SelectedLinear& s, const CompressedWeight& cw, const at::Tensor& weight,
                      const at::Tensor& dW, const InputStats& st,
                      const std::optional<LayerInputStats>& heldoutStats, size_t variants) {
    LayerReport report;
    report.name = s.name;
    report.block = s.block;
    const std::string suffix = linearSuffix(s.kind);
    report.kind = suffix.substr(suffix.find('.') + 1);
    report.outFeatures = weight.size(0);
    report.inFeatures = weight.size(1);
    report.sparsity = cw.sparsity;
    report.ranks.assign(variants, 0);
    report.errorAfter.assign(variants, 0.0);
    report.heldoutErrorAfter.assign(variants, 0.0);
    report.outputEnergy = compensatedError(weight, {}, st.gram);
    report.errorEnergy = compensatedError(dW, {}, st.gram);
    if (heldoutStats) {
        const at::Tensor& c = heldoutStats->forLinear(s.kind).gram;
        report.heldoutOutputEnergy = compensatedError(weight, {}, c);
        report.heldoutErrorEnergy = compensatedError(dW, {}, c);
    }
    return report;
}

// What the linears of one block that read the same input (q/k/v, gate/up) share: they depend on
// C alone.
struct PerSite {
    std::map<InputSite, int64_t> discardedModes;
    SiteAnalyses analyses;
};

// The analysis of the first group's layer, reusing its EoRA basis where one was built (the
// EoRA curve and sigma(dW S) are that basis's eigenvalues) and the eigenvalues of C of an earlier
// linear at the same input site.
LayerAnalysis
analyzeReported(const at::Tensor& weight, const at::Tensor& dW, const InputStats& st,
                const SelectedLinear& s,
                const std::map<std::string, std::unique_ptr<CompensationBasis>>& bases,
                const std::vector<Variant>& variants, const Group& group, PerSite& perSite) {
    const CompensationBasis* eoraBasis = nullptr;
    for (size_t v : group.variants) {
        const MethodConfig& comp = variants[v].compensation;
        const auto it = bases.find(comp.serialize());
        if (comp.spec().traits.weighting == InputWeighting::Gram && it != bases.end())
            eoraBasis = it->second.get();
    }
    return perSite.analyses.analyze(weight, dW, st, s.kind, s.name, eoraBasis);
}

LayerReport& reportOf(CompressResult& result, const std::string& layer) {
    for (LayerReport& r : result.layers)
        if (r.name == layer)
            return r;
    fail(layer, "has no report");
}

// Compresses one selected linear for one group and fits every variant's factors of the group
// from one basis per compensation method.
void compressLinear(CompressRun& run, size_t gi, const SelectedLinear& s,
                    const LayerInputStats& stats,
                    const std::optional<LayerInputStats>& heldoutStats, PerSite& perSite) {
    const CompressRequest& request = run.request;
    CompressResult& result = run.result;
    Group& group = run.groups[gi];
    const InputStats& st = stats.forLinear(s.kind);
    if (gi == 0 && request.inputs.analyze)
        perSite.analyses.prepare(st, s.kind, s.name);
    const at::Tensor weight = run.model.linearWeight(s.block, s.kind).to(at::kFloat);
    const CompressedWeight cw = compressWeight(request.compression, weight, &st, s.name);
    // W_c outlives this call only where the block is run with it: evaluation passes, sequential
    // calibration (and the export hook, which gets the grid too).
    if (!request.inputs.evalText.empty() || request.mode == CalibrationMode::Sequential)
        group.compressed[s.name] = cw.weight;
    if (run.keepGrids)
        group.kept[s.name] = cw;
    const at::Tensor dW = weight - cw.weight;
    // Between the stages of one layer too: at scale each takes seconds.
    run.job.cancel.throwIfCancelled();

    if (gi == 0)
        run.pending[s.name] =
            newReport(s, cw, weight, dW, st, heldoutStats, result.variants.size());
    LayerReport* report = gi == 0 ? &run.pending.at(s.name) : &reportOf(result, s.name);

    std::map<std::string, std::unique_ptr<CompensationBasis>> bases;
    for (size_t v : group.variants) {
        const Variant& variant = result.variants[v];
        const std::string key = variant.compensation.serialize();
        const int64_t rank = variantRank(variant, request, s.name);
        LowRankFactors f;
        if (rank > 0) {
            if (!bases.count(key)) {
                int64_t maxRank = 0;
                for (size_t w : group.variants)
                    if (result.variants[w].compensation.serialize() == key)
                        maxRank =
                            std::max(maxRank, variantRank(result.variants[w], request, s.name));
                bases[key] = buildCompensationBasis(variant.compensation, dW, st, maxRank, s.name);
                run.job.cancel.throwIfCancelled();
                if (gi == 0 &&
                    variant.compensation.spec().traits.weighting == InputWeighting::Gram) {
                    // The count depends on C alone: once per input site, not per linear (q/k/v
                    // and gate/up share theirs).
                    const auto [it, fresh] =
                        perSite.discardedModes.try_emplace(inputSiteOf(s.kind), 0);
                    if (fresh)
                        it->second = bases[key]->discardedModes();
                    report->discardedModes = it->second;
                }
            }
            f = deployedFactors(variant.compensation, *bases[key], rank);
        }
        report->ranks[v] = rank;
        report->errorAfter[v] =
            compensatedError(dW, f, st.gram) / std::max(report->outputEnergy, 1e-300);
        if (heldoutStats)
            report->heldoutErrorAfter[v] =
                compensatedError(dW, f, heldoutStats->forLinear(s.kind).gram) /
                std::max(report->heldoutOutputEnergy, 1e-300);
        run.factors[v][s.name] = std::move(f);
    }
    run.job.cancel.throwIfCancelled();
    if (gi == 0 && request.inputs.analyze)
        report->analysis =
            analyzeReported(weight, dW, st, s, bases, result.variants, group, perSite);
}

void installVariantBlock(CompressRun& run, size_t v, int64_t k) {
    const Group& group = run.groups[run.request.mode == CalibrationMode::Parallel ? 0 : v];
    for (const SelectedLinear& s : run.selected)
        if (s.block == k)
            run.installer.install(s, group.compressed.at(s.name), &run.factors[v].at(s.name));
}

int ownRank(const JobContext& job) {
    return distributed(job) ? job.group->rank() : 0;
}

// Hands each linear's outcome (report, W_c, grid, factors) from the rank that computed it to
// every other rank, so that all of them run the block's variants in the evaluation passes and
// rank 0 records and exports the whole block.
void exchangeOutcomes(CompressRun& run, size_t gi,
                      const std::vector<const SelectedLinear*>& inBlock,
                      const std::vector<int>& owners) {
    if (!distributed(run.job))
        return;
    Communicator& comm = *run.job.group;
    Group& group = run.groups[gi];
    for (size_t i = 0; i < inBlock.size(); ++i) {
        const std::string& name = inBlock[i]->name;
        const bool mine = owners[i] == comm.rank();
        c10::IValue sent;
        if (mine) {
            LinearOutcome outcome;
            outcome.report = gi == 0 ? run.pending.at(name) : reportOf(run.result, name);
            if (const auto it = group.compressed.find(name); it != group.compressed.end())
                outcome.compressed = it->second;
            if (const auto it = group.kept.find(name); it != group.kept.end())
                outcome.kept = it->second;
            for (size_t v : group.variants)
                outcome.factors.emplace_back(v, run.factors[v].at(name));
            sent = packOutcome(outcome);
        }
        const c10::IValue received = comm.broadcastValue(sent, owners[i]);
        if (mine)
            continue;
        LinearOutcome outcome = unpackOutcome(received);
        (gi == 0 ? run.pending[name] : reportOf(run.result, name)) = std::move(outcome.report);
        if (outcome.compressed.defined())
            group.compressed[name] = outcome.compressed;
        if (outcome.kept)
            group.kept[name] = std::move(*outcome.kept);
        for (auto& [v, f] : outcome.factors)
            run.factors[v][name] = std::move(f);
    }
}

// Calibrates and compresses block k for every group (sequential groups advance their inputs
// through the block as compressed and compensated).
void compressBlock(CompressRun& run, int64_t k) {
    auto started = std::chrono::steady_clock::now();
    std::vector<const SelectedLinear*> inBlock;
    SiteMask sites = 0;
    for (const SelectedLinear& s : run.selected)
        if (s.block == k) {
            inBlock.push_back(&s);
            sites |= siteBit(inputSiteOf(s.kind));
        }
    if (inBlock.empty()) { // nothing to compress: the inputs only go through the block
        if (run.heldout)
            run.heldout->advance(k, run.job);
        for (Group& group : run.groups)
            group.calibrator->advance(k, run.job);
        run.clock.add("calibrate", started);
        return;
    }
    std::optional<LayerInputStats> heldoutStats;
    if (run.heldout) // held-out inputs follow the original model
        heldoutStats = run.heldout->collectAndAdvance(k, run.job, sites);
    const bool parallel = run.request.mode == CalibrationMode::Parallel;
    for (size_t gi = 0; gi < run.groups.size(); ++gi) {
        Group& group = run.groups[gi];
        LayerInputStats stats = parallel ? group.calibrator->collectAndAdvance(k, run.job, sites)
                                         : group.calibrator->collect(k, run.job, sites);
        // Every pass through the original block is done: its linears are read one at a time
        // from here on (the whole block in float32 is 832 MB for an 8B model).
        if (parallel)
            run.model.releaseLayer(k);
        PerSite perSite;
        run.clock.add("calibrate", started);
        started = std::chrono::steady_clock::now();
        const std::vector<int> owners =
            linearOwners(inBlock, distributed(run.job) ? run.job.group->size() : 1);
        for (size_t i = 0; i < inBlock.size(); ++i) {
            run.job.cancel.throwIfCancelled();
            if (owners[i] != ownRank(run.job))
                continue; // another rank's: its outcome arrives in exchangeOutcomes()
            compressLinear(run, gi, *inBlock[i], stats, heldoutStats, perSite);
            // A site's Gram matrix goes as soon as its last linear is done (down_proj's alone
            // is d_ff^2 float64: 1.6 GB for Llama-3-8B).
            const InputSite site = inputSiteOf(inBlock[i]->kind);
            const bool needed = std::any_of(
                inBlock.begin() + long(i) + 1, inBlock.end(),
                [&](const SelectedLinear* later) { return inputSiteOf(later->kind) == site; });
            if (!needed) {
                stats.of(site) = {};
                if (heldoutStats && gi + 1 == run.groups.size())
                    heldoutStats->of(site) = {};
            }
        }
        run.clock.add("compress", started);
        started = std::chrono::steady_clock::now();
        if (distributed(run.job)) {
            exchangeOutcomes(run, gi, inBlock, owners);
            run.clock.add("exchange", started);
            started = std::chrono::steady_clock::now();
        }
        if (gi == 0) {
            for (const SelectedLinear* s : inBlock)
                run.result.layers.push_back(std::move(run.pending.at(s->name)));
            run.pending.clear();
        }
        if (!parallel) {
            // The next layer's inputs go through this layer as compressed and compensated.
            installVariantBlock(run, group.variants.front(), k);
            group.calibrator->advance(k, run.job);
            run.installer.restoreBlock(k);
            run.clock.add("calibrate", started);
            started = std::chrono::steady_clock::now();
        }
    }
}

// Passes the evaluation windows of the original model and of every variant through block k.
void evaluateBlock(CompressRun& run, int64_t k) {
    if (!run.baselinePass && run.variantPasses.empty())
        return;
    const auto started = std::chrono::steady_clock::now();
    size_t pass = 0;
    if (run.baselinePass) {
        run.progress->evaluating(k, pass, 0, run.baselinePass->windows());
        run.baselinePass->advance(k, run.progress->passContext(k, pass++, run.quiet));
    }
    for (size_t v = 0; v < run.variantPasses.size(); ++v, ++pass) {
        run.job.cancel.throwIfCancelled();
        run.progress->evaluating(k, pass, 0, run.variantPasses[v]->windows());
        installVariantBlock(run, v, k);
        run.variantPasses[v]->advance(k, run.progress->passContext(k, pass, run.quiet));
        run.installer.restoreBlock(k);
    }
    run.clock.add("evaluate", started);
}

// Hands block k's W_c, grids and factors of every variant to the hook, then drops them: nothing
// of a block outlives it.
void releaseBlock(CompressRun& run, int64_t k) {
    for (size_t v = 0; run.hooks.compressed && v < run.result.variants.size(); ++v) {
        Group& group = run.groups[run.request.mode == CalibrationMode::Parallel ? 0 : v];
        std::vector<CompressedLinear> linears;
        for (const SelectedLinear& s : run.selected)
            if (s.block == k)
                linears.push_back({s.name, &group.kept.at(s.name), &run.factors[v].at(s.name)});
        if (!linears.empty())
            run.hooks.compressed(v, linears);
    }
    for (const SelectedLinear& s : run.selected) {
        if (s.block != k)
            continue;
        for (Group& group : run.groups) {
            group.compressed.erase(s.name);
            group.kept.erase(s.name);
        }
        for (auto& perLayer : run.factors)
            perLayer.erase(s.name);
    }
    run.model.releaseLayer(k);
}

void startPasses(CompressRun& run, const ModelSession& session) {
    const CompressRequest& request = run.request;
    const TokenStream stream = evaluationStream(session, request.inputs, run.job);
    if (request.inputs.evaluateBaseline)
        run.baselinePass = std::make_unique<StreamingPerplexity>(run.model, stream,
                                                                 request.inputs.eval, run.quiet);
    for (size_t v = 0; v < run.result.variants.size(); ++v)
        run.variantPasses.push_back(std::make_unique<StreamingPerplexity>(
            run.model, stream, request.inputs.eval, run.quiet));
}

// The evaluation passes in the order they run: the original model's, then each variant's.
std::vector<std::string> passNames(const CompressRun& run) {
    std::vector<std::string> names;
    if (run.baselinePass)
        names.push_back("original");
    for (size_t v = 0; v < run.variantPasses.size(); ++v)
        names.push_back(run.result.variants[v].label());
    return names;
}

void finishPasses(CompressRun& run) {
    const auto started = std::chrono::steady_clock::now();
    const int64_t head = run.model.numLayers();
    size_t pass = 0;
    if (run.baselinePass) {
        run.progress->evaluating(head, pass, 0, run.baselinePass->windows());
        run.result.baseline =
            run.baselinePass->finish(run.progress->passContext(head, pass++, run.quiet));
        run.baselinePass.reset();
        if (run.hooks.evaluated)
            run.hooks.evaluated(std::nullopt, *run.result.baseline);
    }
    for (size_t v = 0; v < run.variantPasses.size(); ++v, ++pass) {
        run.job.cancel.throwIfCancelled();
        run.progress->evaluating(head, pass, 0, run.variantPasses[v]->windows());
        run.result.variants[v].perplexity =
            run.variantPasses[v]->finish(run.progress->passContext(head, pass, run.quiet));
        run.variantPasses[v].reset();
        if (run.hooks.evaluated)
            run.hooks.evaluated(v, *run.result.variants[v].perplexity);
    }
    run.clock.add("evaluate", started);
}

// Each variant's adapter size: its rank at every selected linear times d_out + d_in.
void countAdapterParameters(CompressRun& run) {
    for (Variant& variant : run.result.variants)
        for (const SelectedLinear& s : run.selected)
            variant.adapterParameters +=
                variantRank(variant, run.request, s.name) * (s.outFeatures + s.inFeatures);
}

// Whether W_c is kept with its grid for the export hook. Only rank 0 has the hooks (it alone
// records and exports); the owners of its layers must know whether to send the grids along.
void agreeOnGrids(CompressRun& run) {
    if (!distributed(run.job)) {
        run.keepGrids = bool(run.hooks.compressed);
        return;
    }
    at::Tensor keep = at::full({1}, run.hooks.compressed ? 1 : 0, at::kLong);
    run.job.group->broadcast(keep, 0);
    run.keepGrids = keep.item<int64_t>() != 0;
}

// The calibration windows and the statistics sources: one group for all variants (parallel), or
// one per variant calibrated on its own compressed blocks (sequential); held-out statistics from
// the evaluation text.
void prepareCalibration(CompressRun& run, const ModelSession& session) {
    const CompressRequest& request = run.request;
    const int64_t seqLen = std::min(request.inputs.calibSeqLen, run.model.config().maxPositions);
    const at::Tensor calibWindows = windowsFromText(session, request.inputs.calibText, seqLen,
                                                    request.inputs.calibTokens, run.job);
    run.result.calibrationTokens = calibWindows.numel();
    if (!request.inputs.evalText.empty() && request.heldoutTokens > 0) {
        const at::Tensor windows = windowsFromText(session, request.inputs.evalText,
                                                   std::min(seqLen, request.heldoutTokens),
                                                   request.heldoutTokens, run.job);
        run.result.heldoutTokens = windows.numel();
        run.heldout = statsSource(run.hooks, StatsRole::Heldout, run.model, windows, run.job);
    }
    const size_t variants = run.result.variants.size();
    if (request.mode == CalibrationMode::Parallel) {
        run.groups.emplace_back();
        for (size_t v = 0; v < variants; ++v)
            run.groups.back().variants.push_back(v);
        run.groups.front().calibrator =
            statsSource(run.hooks, StatsRole::Calibration, run.model, calibWindows, run.job);
    } else {
        for (size_t v = 0; v < variants; ++v) {
            run.groups.push_back({{v}, nullptr, {}, {}});
            run.groups.back().calibrator =
                std::make_unique<CalibratingSource>(run.model, calibWindows, run.job);
        }
    }
    run.factors.resize(variants);
}

// One block at a time: calibrate, compress and compensate its linears, pass the evaluation
// windows of every variant through it, release it.
void streamBlocks(CompressRun& run) {
    const int64_t layers = run.model.numLayers();
    for (int64_t k = 0; k < layers; ++k) {
        run.job.cancel.throwIfCancelled();
        run.progress->compressing(k);
        const size_t firstReport = run.result.layers.size();
        compressBlock(run, k);
        if (run.hooks.layerDone && run.result.layers.size() > firstReport)
            run.hooks.layerDone(run.result, firstReport, run.result.layers.size() - firstReport);
        evaluateBlock(run, k);
        releaseBlock(run, k);
    }
    for (Group& group : run.groups)
        group.calibrator.reset(); // frees the calibration activations before the output head
    run.heldout.reset();
}

} // namespace

void requireRanksFit(const CompressRequest& request, const std::vector<SelectedLinear>& selected) {
    const bool fitsFactors =
        std::any_of(request.compensations.begin(), request.compensations.end(),
                    [](const MethodConfig& c) { return c.spec().fitsFactors(); });
    if (!fitsFactors)
        return;
    for (const SelectedLinear& s : selected) {
        const int64_t most = std::min(s.outFeatures, s.inFeatures);
        const std::vector<int64_t> ranks =
            request.plan ? std::vector<int64_t>{request.plan->rankFor(s.name)} : request.ranks;
        for (const int64_t rank : ranks)
            if (rank > most)
                failArgument("rank", std::to_string(rank) + " exceeds min(d_out, d_in) = " +
                                         std::to_string(most) + " of " + s.name);
    }
}

CompressResult runCompression(ModelSession& session, const CompressRequest& request,
                              const JobContext& job, const CompressHooks& hooks) {
    announceCompression(job, session, request); // the ranks that follow rank 0 run it too
    c10::InferenceMode inference;
    waitForAbandonedWork(); // a cancelled job's last decomposition must not overlap this one
    const CancelScope cancelInKernels(job.cancel); // the decompositions of one layer take seconds
    requireDenseModel(session, "compression");
    LlamaModel& model = session.model();
    CompressResult result;
    StageClock clock(result.stageSeconds);
    result.variants = planVariants(request);
    std::vector<SelectedLinear> selected =
        selectLinears(session.checkpoint(), request.inputs.layers);
    requireRanksFit(request, selected);

    CompressRun run{request,
                    job,
                    hooks,
                    model,
                    result,
                    clock,
                    Installer(model),
                    std::move(selected),
                    {},
                    nullptr,
                    {},
                    {},
                    false,
                    nullptr,
                    {},
                    JobContext{{}, job.cancel, job.memory, job.group},
                    nullptr};
    countAdapterParameters(run);
    requireSameRequest(job, session, request, requestToJson);
    agreeOnGrids(run);
    if (hooks.planned)
        hooks.planned(result);
    RestoreGuard restoreAtExit(run.installer, run.selected);

    auto started = std::chrono::steady_clock::now();
    prepareCalibration(run, session);
    clock.add("calibrate", started);
    if (!request.inputs.evalText.empty()) {
        started = std::chrono::steady_clock::now();
        startPasses(run, session);
        clock.add("evaluate", started);
    }
    run.progress = std::make_unique<CompressProgress>(job, model.numLayers(), passNames(run));
    streamBlocks(run);
    if (!request.inputs.evalText.empty())
        finishPasses(run);
    run.progress->finished();
    return result;
}

} // namespace rs
