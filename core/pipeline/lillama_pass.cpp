#include "calib/layerwise.h"
#include "dist/communicator.h"
#include "factorize/lillama.h"
#include "pipeline/lowrank_run.h"

namespace rs::lowrank_run {

namespace {

// Variant v's starting factors of a block's linears, the weight SVD at each one's rank, in
// run.factors[v] (and, for the first variant, each one's analysis): each linear is fitted by one
// rank and handed to the others.
void startFactors(LowRankRun& run, size_t v, const std::vector<size_t>& inBlock,
                  const LayerInputStats& stats) {
    const std::vector<int> owners = fitOwners(run, inBlock);
    for (size_t n = 0; n < inBlock.size(); ++n) {
        const size_t i = inBlock[n];
        if (!ownFit(run, owners[n]))
            continue;
        const InputStats& st = stats.forLinear(run.selected[i].kind);
        if (v == 0)
            fitLayer(run, i, st, Fit::AnalysisOnly);
        if (!run.factored(v, i))
            continue;
        const int64_t r = run.ranks[v][i];
        run.factors[v][i] =
            buildLordBasis(run.request.method, originalWeight(run.model, run.selected[i]), st, r,
                           run.selected[i].name)
                ->factorsAt(r);
    }
    exchangeFits(run, inBlock, owners, nullptr);
}

// Block k over the teacher stream (the original model's hidden states): its output, and in
// `stats` the inputs' statistics where a selected linear reads, summed over the ranks.
at::Tensor teacherThroughBlock(LowRankRun& run, int64_t k, const at::Tensor& teacher, int64_t batch,
                               const std::vector<size_t>& inBlock, LayerInputStats& stats) {
    SiteMask sites = 0;
    for (size_t i : inBlock)
        sites |= siteBit(inputSiteOf(run.selected[i].kind));
    run.model.setLinearInputHook([&](int64_t layer, InputSite site, const at::Tensor& x) {
        if (layer == k && (sites & siteBit(site)))
            stats.of(site).accumulate(x);
    });
    at::Tensor out;
    try {
        out = runBlock(run.model, k, teacher, batch, run.job);
    } catch (...) {
        run.model.setLinearInputHook({});
        throw;
    }
    run.model.setLinearInputHook({});
    if (distributed(run.job))
        for (InputStats& site : stats.sites)
            if (site.gram.defined())
                sumOverRanks(site, *run.job.group);
    return out;
}

} // namespace

void runLillama(LowRankRun& run, const ModelSession& session, const at::Tensor& windows,
                int64_t batch) {
    LillamaOptions options;
    options.steps = run.request.method.integer("steps");
    options.learningRate = run.request.method.real("lr");
    options.batch = run.request.method.integer("batch");
    options.weightDecay = run.request.method.real("weight_decay");
    options.seed = static_cast<uint64_t>(run.request.method.integer("seed"));
    // Spread over several processes, each rank streams its share of the windows; the statistics
    // and the distillation's gradients are summed over the ranks.
    Communicator* group = distributed(run.job) ? run.job.group.get() : nullptr;
    const at::Tensor held = shareOfWindows(windows, group);
    if (group) {
        options.firstWindow = group->share(windows.size(0), "calibration windows").first;
        options.totalWindows = windows.size(0);
    }
    LlamaModel& model = run.model;
    startPasses(run, session);
    run.clock.add("evaluate");
    for (size_t v = 0; v < run.result.variants.size(); ++v) {
        // Teacher and student streams: memory holds one layer's activations (three copies).
        at::Tensor teacher = model.embed(held);
        at::Tensor student = teacher.clone();
        for (int64_t k = 0; k < model.numLayers(); ++k) {
            if (v == 0 && run.passes.baseline) {
                run.passes.baseline->advance(k, run.quiet);
                run.clock.add("evaluate");
            }
            std::map<size_t, at::Tensor> dense; // this block's original weights
            const std::vector<size_t> inBlock = run.inBlock(k);
            LayerInputStats stats;
            at::Tensor teacherOut = teacherThroughBlock(run, k, teacher, batch, inBlock, stats);
            run.clock.add("calibrate");
            startFactors(run, v, inBlock, stats);
            bool any = false;
            for (size_t i : inBlock) {
                if (!run.factored(v, i))
                    continue;
                dense[i] = originalWeight(model, run.selected[i]);
                run.installer.install(i, run.factors[v].at(i));
                any = true;
            }
            run.clock.add("factor");
            if (any) {
                run.result.variants[v].distillation.push_back(
                    distillLayer(model, k, teacher, student, teacherOut, options, run.job));
                if (run.hooks.distilled)
                    run.hooks.distilled(v, run.result.variants[v].distillation.back());
            }
            for (size_t i : inBlock) {
                if (!run.factored(v, i))
                    continue;
                const Linear& trained = model.layer(k).linear(run.selected[i].kind);
                LowRankFactors f{trained.loraB.detach().to(at::kFloat),
                                 trained.loraA.detach().to(at::kFloat)};
                run.result.layers[i].errorAfter[v] =
                    relativeFactorError(dense.at(i), f, stats.forLinear(run.selected[i].kind).gram);
                run.factors[v][i] = std::move(f);
            }
            run.clock.add("distill");
            handOver(run, v, k);
            run.factors[v].clear();
            student = runBlock(model, k, student, batch, run.job);
            teacher = teacherOut;
            run.clock.add("distill");
            if (v < run.passes.variants.size()) {
                run.passes.variants[v]->advance(k, run.quiet); // the distilled block
                run.clock.add("evaluate");
            }
            run.installer.restoreBlock(k);
            model.releaseLayer(k);
        }
        if (v == 0)
            finishBaseline(run);
        finishVariantPass(run, v);
        run.clock.add("evaluate");
    }
}

} // namespace rs::lowrank_run
