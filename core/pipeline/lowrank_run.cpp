#include "pipeline/lowrank_run.h"

#include "dist/communicator.h"
#include "pipeline/linear_exchange.h"
#include "pipeline/session.h"
#include "util/error.h"
#include "util/text.h"

namespace rs::lowrank_run {

namespace {

// The analyses of the block of `s`: the linears of one block at the same input site share the
// eigenvalues of C.
SiteAnalyses& analysesOf(LowRankRun& run, const SelectedLinear& s) {
    if (s.block != run.analysesBlock) {
        run.analyses = SiteAnalyses();
        run.analysesBlock = s.block;
    }
    return run.analyses;
}

} // namespace

at::Tensor originalWeight(const LlamaModel& model, const SelectedLinear& s) {
    return model.layer(s.block).linear(s.kind).weight.to(at::kFloat);
}

at::Tensor runBlock(LlamaModel& model, int64_t block, const at::Tensor& hidden, int64_t batch,
                    const JobContext& job) {
    at::Tensor out = at::empty_like(hidden);
    for (int64_t first = 0; first < hidden.size(0); first += batch) {
        job.cancel.throwIfCancelled();
        const int64_t count = std::min(batch, hidden.size(0) - first);
        out.narrow(0, first, count)
            .copy_(model.decoderLayer(block, hidden.narrow(0, first, count)));
    }
    return out;
}

void startPasses(LowRankRun& run, const ModelSession& session) {
    if (run.request.inputs.evalText.empty())
        return;
    const TokenStream stream = evaluationStream(session, run.request.inputs, run.job);
    if (run.request.inputs.evaluateBaseline)
        run.passes.baseline = std::make_unique<StreamingPerplexity>(
            run.model, stream, run.request.inputs.eval, run.quiet);
    for (size_t v = 0; v < run.result.variants.size(); ++v)
        run.passes.variants.push_back(std::make_unique<StreamingPerplexity>(
            run.model, stream, run.request.inputs.eval, run.quiet));
}

void finishBaseline(LowRankRun& run) {
    if (!run.passes.baseline)
        return;
    run.result.baseline = run.passes.baseline->finish(run.quiet);
    run.passes.baseline.reset();
    if (run.hooks.evaluated)
        run.hooks.evaluated(std::nullopt, *run.result.baseline);
}

void finishVariantPass(LowRankRun& run, size_t v) {
    if (v >= run.passes.variants.size())
        return;
    run.result.variants[v].perplexity = run.passes.variants[v]->finish(run.quiet);
    run.passes.variants[v].reset();
    if (run.hooks.evaluated)
        run.hooks.evaluated(v, *run.result.variants[v].perplexity);
}

void handOver(LowRankRun& run, size_t v, int64_t k) {
    if (!run.hooks.factored)
        return;
    std::vector<FactoredLinear> linears;
    for (size_t i : run.inBlock(k))
        if (run.factored(v, i))
            linears.push_back({run.selected[i].name, &run.factors[v].at(i)});
    if (!linears.empty())
        run.hooks.factored(v, linears);
}

int64_t basisRank(const LowRankRun& run, size_t i) {
    int64_t maxRank =
        run.optimal
            ? std::max<int64_t>(1, std::min(run.shapes[i].breakEvenRank(), run.shapes[i].maxRank()))
            : 0;
    for (const auto& r : run.ranks)
        maxRank = std::max(maxRank, r[i]);
    return maxRank;
}

void factorLayer(LowRankRun& run, size_t i, const CompensationBasis& basis, const at::Tensor& w,
                 const at::Tensor& gram) {
    for (size_t v = 0; v < run.ranks.size(); ++v) {
        if (!run.factored(v, i))
            continue;
        LowRankFactors f = deployedFactors(run.request.method, basis, run.ranks[v][i]);
        run.result.layers[i].errorAfter[v] = relativeFactorError(w, f, gram);
        run.factors[v][i] = std::move(f);
    }
}

void fitLayer(LowRankRun& run, size_t i, const InputStats& stats, Fit fit,
              std::vector<std::vector<double>>* curves) {
    const SelectedLinear& s = run.selected[i];
    LowRankLayerReport& report = run.result.layers[i];
    const at::Tensor w = originalWeight(run.model, s);
    report.outputEnergy = compensatedError(w, {}, stats.gram);
    if (run.request.inputs.analyze)
        analysesOf(run, s).prepare(stats, s.kind, s.name);
    std::unique_ptr<CompensationBasis> basis;
    if (fit != Fit::AnalysisOnly && basisRank(run, i) > 0)
        basis = buildLordBasis(run.request.method, w, stats, basisRank(run, i), s.name);
    // The analysis of W itself reuses a Gram-weighted basis (the EoRA decomposition of W).
    const bool gramWeighted = run.request.method.spec().traits.weighting == InputWeighting::Gram;
    if (run.request.inputs.analyze)
        report.analysis = analysesOf(run, s).analyze(w, w, stats, s.kind, s.name,
                                                     gramWeighted ? basis.get() : nullptr);
    if (!basis)
        return;
    if (fit == Fit::Curve)
        (*curves)[i] = basis->errorCurve();
    else
        factorLayer(run, i, *basis, w, stats.gram);
}

std::vector<int> fitOwners(const LowRankRun& run, const std::vector<size_t>& inBlock) {
    if (!distributed(run.job))
        return std::vector<int>(inBlock.size(), 0);
    std::vector<const SelectedLinear*> linears;
    for (size_t i : inBlock)
        linears.push_back(&run.selected[i]);
    return linearOwners(linears, run.job.group->size());
}

bool ownFit(const LowRankRun& run, int owner) {
    return !distributed(run.job) || run.job.group->rank() == owner;
}

void exchangeFits(LowRankRun& run, const std::vector<size_t>& inBlock,
                  const std::vector<int>& owners, std::vector<std::vector<double>>* curves) {
    if (!distributed(run.job))
        return;
    Communicator& group = *run.job.group;
    for (size_t n = 0; n < inBlock.size(); ++n) {
        const size_t i = inBlock[n];
        LowRankLayerReport& report = run.result.layers[i];
        const bool mine = owners[n] == group.rank();
        c10::IValue sent;
        if (mine) {
            FactoredOutcome fit{report.outputEnergy, report.errorAfter, report.analysis, {}, {}};
            for (size_t v = 0; v < run.factors.size(); ++v)
                if (const auto it = run.factors[v].find(i); it != run.factors[v].end())
                    fit.factors.emplace_back(v, it->second);
            if (curves)
                fit.curve = (*curves)[i];
            sent = packFactored(fit);
        }
        const c10::IValue received = group.broadcastValue(sent, owners[n]);
        if (mine)
            continue;
        FactoredOutcome fit = unpackFactored(received);
        report.outputEnergy = fit.outputEnergy;
        report.errorAfter = std::move(fit.errorAfter);
        report.analysis = std::move(fit.analysis);
        for (auto& [v, f] : fit.factors)
            run.factors[v][i] = std::move(f);
        if (curves)
            (*curves)[i] = std::move(fit.curve);
    }
}

} // namespace rs::lowrank_run
