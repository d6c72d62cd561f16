#include "pipeline/lowrank_job.h"

#include "budget/planner.h"
#include "calib/layerwise.h"
#include "calib/stats.h"
#include "io/checkpoint.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "pipeline/stage_clock.h"
#include "seed/allocation.h"
#include "seed/lord.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <regex>

namespace rs {

namespace {

// Hidden states of one forward batch stay below this (as in calibration).
constexpr int64_t kActivationBudgetBytes = 64LL << 20;

struct Selected {
    int64_t block = 0;
    LinearKind kind = LinearKind::Q;
    std::string name;
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
};

// The layer's dense weight in float32, as the checkpoint has it (the block is built if needed).
at::Tensor originalWeight(const LlamaModel& model, const Selected& s) {
    return model.layer(s.block).linear(s.kind).weight.to(at::kFloat);
}

std::vector<Selected> selectLinears(const ModelSession& session, const LayerSelection& selection) {
    std::vector<std::regex> include, exclude;
    const auto compile = [](const std::vector<std::string>& patterns,
                            std::vector<std::regex>& out) {
        for (const std::string& p : patterns) {
            try {
                out.emplace_back(p);
            } catch (const std::regex_error& e) {
                fail("layer pattern '" + p + "'", e.what());
            }
        }
    };
    compile(selection.include, include);
    compile(selection.exclude, exclude);
    const auto any = [](const std::vector<std::regex>& patterns, const std::string& name) {
        return std::any_of(patterns.begin(), patterns.end(),
                           [&](const std::regex& r) { return std::regex_search(name, r); });
    };
    // Shapes from the checkpoint's headers: selecting reads no weight. (A model with low-rank
    // paths was refused before, by requireDenseModel.)
    const Checkpoint& checkpoint = session.checkpoint();
    std::vector<Selected> out;
    for (int64_t block = 0; block < checkpoint.config.numLayers; ++block)
        for (LinearKind kind : kAllLinearKinds) {
            const std::string name = linearName(block, kind);
            if ((include.empty() || any(include, name)) && !any(exclude, name)) {
                const at::Tensor& weight = checkpoint.require(name + ".weight");
                out.push_back({block, kind, name, weight.size(0), weight.size(1)});
            }
        }
    if (out.empty())
        fail("layer selection", "no decoder linear layer matches the include/exclude patterns");
    return out;
}

// Swaps layers between their original dense form and factor-only form (a changed block stays
// pinned in the model until it is reset to the checkpoint's weights); restores every selected
// block when the job ends, however it ends.
class FactorInstaller {
public:
    FactorInstaller(LlamaModel& model, const std::vector<Selected>& selected)
        : m_model(model)
        , m_selected(selected) {}
    ~FactorInstaller() { restoreAll(); }
    void install(size_t i, const LowRankFactors& f) {
        const Selected& s = m_selected[i];
        Linear& linear = m_model.layer(s.block).linear(s.kind);
        const auto options = linear.factorOnly() ? linear.loraA.options() : linear.weight.options();
        linear.weight = at::Tensor();
        linear.loraA = f.A.to(options).contiguous();
        linear.loraB = f.B.to(options).contiguous();
    }
    void restoreBlock(int64_t block) { m_model.resetLayer(block); }
    void restoreAll() {
        for (const Selected& s : m_selected)
            m_model.resetLayer(s.block);
    }

private:
    LlamaModel& m_model;
    const std::vector<Selected>& m_selected;
};

TokenStream tokenStream(const ModelSession& session, const std::filesystem::path& path) {
    const std::string text = readTextFile(path);
    try {
        TokenStream stream = buildTokenStream(text, detectProtocol(text), session.tokenizer());
        stream.source = path.string();
        return stream;
    } catch (const Error& e) {
        fail(path.string(), e.what());
    }
}

// Variants and their per-layer ranks (kDenseRank: kept dense).
void planVariants(const LowRankRequest& request, const std::vector<Selected>& selected,
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
        for (const Selected& s : selected)
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

// Runs decoder layer `block` over every window in batches; the hook (if any) sees its inputs.
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

LowRankLayerReport newReport(const Selected& s, size_t variants) {
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

LowRankResult runLowRank(ModelSession& session, const LowRankRequest& request,
                         const JobContext& job, const LowRankHooks& hooks) {
    c10::InferenceMode inference;
    if (request.method.kind() != MethodKind::LowRank)
        fail(request.method.id(), "is not a low-rank method (lord-weight, lord-data, lillama)");
    requireDenseModel(session, "low-rank factorization");
    LlamaModel& model = session.model();
    LowRankResult result;
    StageClock clock(result.stageSeconds);
    const bool lillama = request.method.id() == "lillama";

    const std::vector<Selected> selected = selectLinears(session, request.inputs.layers);
    std::vector<FactorShape> shapes;
    for (const Selected& s : selected)
        shapes.push_back({s.name, s.block, s.outFeatures, s.inFeatures});
    std::vector<std::vector<int64_t>> ranks; // [variant][layer]
    planVariants(request, selected, shapes, result, ranks);
    for (const Selected& s : selected)
        result.layers.push_back(newReport(s, result.variants.size()));
    for (size_t v = 0; v < ranks.size(); ++v)
        for (size_t i = 0; i < selected.size(); ++i)
            result.layers[i].ranks[v] = ranks[v][i];
    const bool optimal = !lillama && !request.plan && request.uniformRank <= 0 &&
                         request.method.text("allocation") == "optimal";
    if (hooks.planned && !optimal)
        hooks.planned(result);

    FactorInstaller installer(model, selected);
    const int64_t seqLen = std::min(request.inputs.calibSeqLen, model.config().maxPositions);
    const at::Tensor windows =
        calibrationWindows(tokenStream(session, request.inputs.calibText).tokens, seqLen,
                           request.inputs.calibTokens, request.inputs.calibText.string());
    result.calibrationTokens = windows.numel();
    const int64_t perWindow = seqLen * model.config().hiddenSize * 4;
    const int64_t batch =
        std::clamp<int64_t>(kActivationBudgetBytes / perWindow, 1, windows.size(0));

    std::vector<std::vector<LowRankFactors>> factors(result.variants.size(),
                                                     std::vector<LowRankFactors>(selected.size()));
    const int bits = lillama ? 0 : static_cast<int>(request.method.integer("factor_bits"));
    const LordVariant lord = request.method.id() == "lord-weight" || lillama
                                 ? LordVariant::WeightSvd
                                 : LordVariant::DataAware;
    // Optimal allocation: every basis and its statistics wait until all curves are known.
    std::vector<std::unique_ptr<CompensationBasis>> kept(selected.size());
    std::vector<InputStats> keptStats(selected.size());
    const auto factorLayer = [&](size_t i, const CompensationBasis& basis, const at::Tensor& gram) {
        const at::Tensor w = originalWeight(model, selected[i]);
        for (size_t v = 0; v < ranks.size(); ++v) {
            if (ranks[v][i] == kDenseRank)
                continue;
            factors[v][i] = quantizeFactorPair(basis.factorsAt(ranks[v][i]), bits);
            result.layers[i].errorAfter[v] = relativeFactorError(w, factors[v][i], gram);
        }
    };
    // The analysis of W itself reuses LoRD's data-aware basis (the EoRA decomposition of W) and
    // the eigenvalues of C of an earlier linear of the block at the same input site.
    std::map<InputSite, std::vector<double>> gramEigenvalues;
    int64_t gramBlock = -1;
    const auto analyze = [&](const Selected& s, const at::Tensor& w, const InputStats& stats,
                             const CompensationBasis* eoraBasis) {
        if (s.block != gramBlock) {
            gramEigenvalues.clear();
            gramBlock = s.block;
        }
        AnalysisReuse reuse;
        reuse.eoraBasis = eoraBasis;
        const InputSite site = inputSiteOf(s.kind);
        const auto known = gramEigenvalues.find(site);
        if (known != gramEigenvalues.end())
            reuse.gramEigenvalues = &known->second;
        LayerAnalysis analysis = analyzeLayer(w, w, stats, s.name, reuse);
        gramEigenvalues.try_emplace(site, analysis.spectra.gramEigenvalues);
        return analysis;
    };
    // Per layer: energy, analysis and (LoRD) the factors of every variant from one basis.
    const auto fitLayer = [&](size_t i, const InputStats& stats, bool factor) {
        const Selected& s = selected[i];
        LowRankLayerReport& report = result.layers[i];
        const at::Tensor w = originalWeight(model, s);
        report.outputEnergy = compensatedError(w, {}, stats.gram);
        int64_t maxRank = 0;
        if (factor) {
            maxRank =
                optimal
                    ? std::max<int64_t>(1, std::min(shapes[i].breakEvenRank(), shapes[i].maxRank()))
                    : 0;
            for (const auto& r : ranks)
                maxRank = std::max(maxRank, r[i]);
        }
        std::unique_ptr<CompensationBasis> basis;
        if (maxRank > 0)
            basis = buildLordBasis(lord, w, stats, maxRank, s.name);
        if (request.inputs.analyze)
            report.analysis =
                analyze(s, w, stats, lord == LordVariant::DataAware ? basis.get() : nullptr);
        if (!basis)
            return;
        if (optimal) {
            kept[i] = std::move(basis);
            keptStats[i] = stats;
        } else {
            factorLayer(i, *basis, stats.gram);
        }
    };

    if (!lillama) {
        LayerwiseCalibrator calibrator(model, windows, 0, job);
        clock.add("calibrate");
        for (int64_t k = 0; k < model.numLayers(); ++k) {
            job.report("factor", k, model.numLayers(), "layer " + std::to_string(k));
            const LayerInputStats stats = calibrator.collectAndAdvance(k, job);
            clock.add("calibrate");
            for (size_t i = 0; i < selected.size(); ++i) {
                job.cancel.throwIfCancelled();
                if (selected[i].block == k)
                    fitLayer(i, stats.forLinear(selected[i].kind), true);
            }
            model.releaseLayer(k);
            clock.add("factor");
        }
        job.report("factor", model.numLayers(), model.numLayers());
        if (optimal) {
            std::vector<std::vector<double>> curves;
            for (const auto& basis : kept)
                curves.push_back(basis->errorCurve());
            for (size_t v = 0; v < result.variants.size(); ++v) {
                LowRankVariant& variant = result.variants[v];
                const RankAllocation a = plannedAllocation(shapes, curves, variant.targetReduction);
                ranks[v] = a.ranks;
                variant.parametersBefore = a.parametersBefore;
                variant.parametersAfter = a.parametersAfter;
                for (size_t i = 0; i < selected.size(); ++i)
                    result.layers[i].ranks[v] = a.ranks[i];
            }
            for (size_t i = 0; i < selected.size(); ++i) {
                factorLayer(i, *kept[i], keptStats[i].gram);
                kept[i].reset();
                keptStats[i] = {};
            }
            clock.add("factor");
        }
    } else {
        LillamaOptions options;
        options.steps = request.method.integer("steps");
        options.learningRate = request.method.real("lr");
        options.batch = request.method.integer("batch");
        options.weightDecay = request.method.real("weight_decay");
        options.seed = static_cast<uint64_t>(request.method.integer("seed"));
        for (size_t v = 0; v < result.variants.size(); ++v) {
            // Teacher and student streams: memory holds one layer's activations (three copies).
            at::Tensor teacher = model.embed(windows);
            at::Tensor student = teacher.clone();
            for (int64_t k = 0; k < model.numLayers(); ++k) {
                std::map<size_t, at::Tensor> dense; // this block's original weights
                LayerInputStats stats;
                model.setLinearInputHook([&](int64_t layer, InputSite site, const at::Tensor& x) {
                    if (layer == k)
                        stats.of(site).accumulate(x);
                });
                at::Tensor teacherOut;
                try {
                    teacherOut = runBlock(model, k, teacher, batch, job);
                } catch (...) {
                    model.setLinearInputHook({});
                    throw;
                }
                model.setLinearInputHook({});
                clock.add("calibrate");
                bool any = false;
                for (size_t i = 0; i < selected.size(); ++i) {
                    if (selected[i].block != k)
                        continue;
                    const InputStats& st = stats.forLinear(selected[i].kind);
                    if (v == 0)
                        fitLayer(i, st, false);
                    const int64_t r = ranks[v][i];
                    if (r == kDenseRank)
                        continue;
                    const at::Tensor w = originalWeight(model, selected[i]);
                    dense[i] = w;
                    installer.install(
                        i, buildLordBasis(LordVariant::WeightSvd, w, st, r, selected[i].name)
                               ->factorsAt(r));
                    any = true;
                }
                clock.add("factor");
                if (any) {
                    result.variants[v].distillation.push_back(
                        distillLayer(model, k, teacher, student, teacherOut, options, job));
                    if (hooks.distilled)
                        hooks.distilled(v, result.variants[v].distillation.back());
                }
                for (size_t i = 0; i < selected.size(); ++i) {
                    if (selected[i].block != k || ranks[v][i] == kDenseRank)
                        continue;
                    const Linear& trained = model.layer(k).linear(selected[i].kind);
                    factors[v][i] = {trained.loraB.detach().to(at::kFloat),
                                     trained.loraA.detach().to(at::kFloat)};
                    result.layers[i].errorAfter[v] = relativeFactorError(
                        dense.at(i), factors[v][i], stats.forLinear(selected[i].kind).gram);
                }
                clock.add("distill");
                student = runBlock(model, k, student, batch, job);
                teacher = teacherOut;
                installer.restoreBlock(k);
                model.releaseLayer(k);
                clock.add("distill");
            }
        }
    }
    if (hooks.planned && optimal)
        hooks.planned(result);
    if (hooks.layersDone)
        hooks.layersDone(result);

    if (hooks.factored)
        for (size_t v = 0; v < result.variants.size(); ++v) {
            std::vector<FactoredLinear> linears;
            for (size_t i = 0; i < selected.size(); ++i)
                if (ranks[v][i] != kDenseRank)
                    linears.push_back({selected[i].name, &factors[v][i]});
            hooks.factored(v, linears);
        }

    if (!request.inputs.evalText.empty()) {
        // Block by block: the original model's pass and one per variant, each variant's factors
        // installed in the block only while its windows go through it.
        const TokenStream stream = tokenStream(session, request.inputs.evalText);
        const JobContext quiet{{}, job.cancel, job.memory};
        std::unique_ptr<StreamingPerplexity> baseline;
        if (request.inputs.evaluateBaseline)
            baseline =
                std::make_unique<StreamingPerplexity>(model, stream, request.inputs.eval, quiet);
        std::vector<std::unique_ptr<StreamingPerplexity>> passes;
        for (size_t v = 0; v < result.variants.size(); ++v)
            passes.push_back(
                std::make_unique<StreamingPerplexity>(model, stream, request.inputs.eval, quiet));
        for (int64_t k = 0; k < model.numLayers(); ++k) {
            job.report("evaluate", k, model.numLayers(), "block " + std::to_string(k));
            if (baseline)
                baseline->advance(k, quiet);
            for (size_t v = 0; v < passes.size(); ++v) {
                job.cancel.throwIfCancelled();
                for (size_t i = 0; i < selected.size(); ++i)
                    if (selected[i].block == k && ranks[v][i] != kDenseRank)
                        installer.install(i, factors[v][i]);
                passes[v]->advance(k, quiet);
                installer.restoreBlock(k);
            }
            model.releaseLayer(k);
        }
        job.report("evaluate", model.numLayers(), model.numLayers(), "output head");
        if (baseline) {
            result.baseline = baseline->finish(quiet);
            if (hooks.evaluated)
                hooks.evaluated(std::nullopt, *result.baseline);
        }
        for (size_t v = 0; v < passes.size(); ++v) {
            result.variants[v].perplexity = passes[v]->finish(quiet);
            passes[v].reset();
            if (hooks.evaluated)
                hooks.evaluated(v, *result.variants[v].perplexity);
        }
        clock.add("evaluate");
    }
    return result;
}

} // namespace rs
