#include "pipeline/compress_job.h"

#include "compress/compress.h"
#include "compress/quantgrid.h"
#include "compress/rtn.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "pipeline/stage_clock.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <regex>

namespace rs {

namespace {

struct SelectedLinear {
    int64_t layer = 0;
    LinearKind kind = LinearKind::Q;
    std::string name;
    at::Tensor original; // the model's weight before the job
};

// Variants that share calibration statistics and W_c: all of them in parallel mode, each on its
// own in sequential mode (its compensated layers shape the inputs of the next ones).
struct Group {
    std::vector<size_t> variants;
    std::unique_ptr<LayerStatsSource> calibrator;
    std::map<std::string, at::Tensor> compressed; // W_c per layer name
    std::map<std::string, CompressedWeight> kept; // with grids, only for hooks.compressed
};

std::vector<SelectedLinear> selectLinears(const LlamaModel& model, const LayerSelection& sel) {
    const auto compile = [](const std::vector<std::string>& patterns) {
        std::vector<std::regex> out;
        for (const std::string& p : patterns) {
            try {
                out.emplace_back(p);
            } catch (const std::regex_error& e) {
                fail("layer pattern '" + p + "'",
                     std::string("invalid regular expression: ") + e.what());
            }
        }
        return out;
    };
    const std::vector<std::regex> include = compile(sel.include), exclude = compile(sel.exclude);
    const auto matches = [](const std::vector<std::regex>& rs, const std::string& name) {
        for (const std::regex& r : rs)
            if (std::regex_search(name, r))
                return true;
        return false;
    };
    std::vector<SelectedLinear> selected;
    for (int64_t layer = 0; layer < model.numLayers(); ++layer)
        for (LinearKind kind : kAllLinearKinds) {
            const std::string name = linearName(layer, kind);
            if ((include.empty() || matches(include, name)) && !matches(exclude, name))
                selected.push_back({layer, kind, name, model.layer(layer).linear(kind).weight});
        }
    if (selected.empty())
        fail("layer selection", "no decoder linear layer matches the include/exclude patterns");
    return selected;
}

at::Tensor windowsFromText(const ModelSession& session, const std::filesystem::path& path,
                           int64_t seqLen, int64_t maxTokens) {
    const std::string text = readTextFile(path);
    TokenStream stream;
    try {
        stream = buildTokenStream(text, detectProtocol(text), session.tokenizer());
    } catch (const Error& e) {
        fail(path.string(), e.what());
    }
    return calibrationWindows(stream.tokens, seqLen, maxTokens, path.string());
}

LowRankFactors quantizeFactors(const LowRankFactors& f, int bits) {
    if (bits == 0 || f.rank() == 0)
        return f;
    return {dequantize(quantizeRtn(f.B, bits, -1, false)),
            dequantize(quantizeRtn(f.A, bits, -1, false))};
}

// Puts W_c and the low-rank path of one variant into the model, and takes them out again.
class Installer {
public:
    explicit Installer(LlamaModel& model)
        : m_model(model) {}
    void install(const SelectedLinear& s, const at::Tensor& weight, const LowRankFactors* f) {
        Linear& linear = m_model.layer(s.layer).linear(s.kind);
        const auto options = s.original.options();
        linear.weight = weight.to(options).contiguous();
        if (f && f->rank() > 0) {
            linear.loraA = f->A.to(options).contiguous();
            linear.loraB = f->B.to(options).contiguous();
        } else {
            linear.loraA = linear.loraB = at::Tensor();
        }
    }
    void restore(const SelectedLinear& s) {
        Linear& linear = m_model.layer(s.layer).linear(s.kind);
        linear.weight = s.original;
        linear.loraA = linear.loraB = at::Tensor();
    }

private:
    LlamaModel& m_model;
};

// Restores every selected linear when the job ends, however it ends.
class RestoreGuard {
public:
    RestoreGuard(Installer& installer, const std::vector<SelectedLinear>& selected)
        : m_installer(installer)
        , m_selected(selected) {}
    ~RestoreGuard() {
        for (const SelectedLinear& s : m_selected)
            m_installer.restore(s);
    }

private:
    Installer& m_installer;
    const std::vector<SelectedLinear>& m_selected;
};

} // namespace

int64_t RankPlan::rankFor(const std::string& layer) const {
    const auto it = perLayer.find(layer);
    return it == perLayer.end() ? uniform : it->second;
}

std::string Variant::label() const {
    if (compensation.id() == "none")
        return "none";
    std::string label = compensation.id();
    if (compensation.values().count("factor_bits") && compensation.integer("factor_bits") > 0)
        label += "/q" + compensation.text("factor_bits");
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
                                              LlamaModel& model, const at::Tensor& windows) {
    StatsRequest request;
    request.role = role;
    request.tokens = windows.numel();
    request.seqLen = windows.size(1);
    request.calibrate = [&model, windows] {
        return std::make_unique<CalibratingSource>(model, windows);
    };
    return hooks.stats ? hooks.stats(request) : request.calibrate();
}

} // namespace

CompressResult runCompression(ModelSession& session, const CompressRequest& request,
                              const JobContext& job, const CompressHooks& hooks) {
    c10::InferenceMode inference;
    requireDenseModel(session, "compression");
    LlamaModel& model = session.model();
    CompressResult result;
    StageClock clock(result.stageSeconds);

    // Variants: "none" once, every other compensation at every rank (or at the plan).
    std::vector<MethodConfig> compensations = request.compensations;
    if (compensations.empty())
        compensations.push_back(MethodConfig::defaults("none", MethodKind::Compensation));
    for (const MethodConfig& comp : compensations) {
        if (comp.kind() != MethodKind::Compensation)
            fail(comp.id(), "is not a compensation method");
        if (comp.id() == "none") {
            result.variants.push_back({comp, 0, 0, std::nullopt});
        } else if (request.plan) {
            result.variants.push_back({comp, -1, 0, std::nullopt});
        } else {
            if (request.ranks.empty())
                fail("ranks", "no rank given for " + comp.id());
            for (int64_t rank : request.ranks) {
                if (rank < 1)
                    fail("rank", "must be at least 1 (got " + std::to_string(rank) + ")");
                result.variants.push_back({comp, rank, 0, std::nullopt});
            }
        }
    }

    const std::vector<SelectedLinear> selected = selectLinears(model, request.layers);
    for (Variant& variant : result.variants) {
        if (variant.compensation.id() == "none")
            continue;
        for (const SelectedLinear& s : selected) {
            const int64_t rank = variant.rank < 0 ? request.plan->rankFor(s.name) : variant.rank;
            variant.adapterParameters += rank * (s.original.size(0) + s.original.size(1));
        }
    }
    if (hooks.planned)
        hooks.planned(result);
    Installer installer(model);
    RestoreGuard restoreAtExit(installer, selected);

    auto started = std::chrono::steady_clock::now();
    const int64_t seqLen = std::min(request.calibSeqLen, model.config().maxPositions);
    const at::Tensor calibWindows =
        windowsFromText(session, request.calibText, seqLen, request.calibTokens);
    result.calibrationTokens = calibWindows.numel();
    std::unique_ptr<LayerStatsSource> heldout;
    if (!request.evalText.empty() && request.heldoutTokens > 0) {
        const at::Tensor windows =
            windowsFromText(session, request.evalText, std::min(seqLen, request.heldoutTokens),
                            request.heldoutTokens);
        result.heldoutTokens = windows.numel();
        heldout = statsSource(hooks, StatsRole::Heldout, model, windows);
    }

    std::vector<Group> groups;
    if (request.mode == CalibrationMode::Parallel) {
        groups.emplace_back();
        for (size_t v = 0; v < result.variants.size(); ++v)
            groups.back().variants.push_back(v);
    } else {
        for (size_t v = 0; v < result.variants.size(); ++v)
            groups.push_back({{v}, nullptr, {}, {}});
    }
    if (request.mode == CalibrationMode::Parallel)
        groups.front().calibrator = statsSource(hooks, StatsRole::Calibration, model, calibWindows);
    else
        for (Group& g : groups)
            g.calibrator = std::make_unique<CalibratingSource>(model, calibWindows);
    clock.add("calibrate", started);

    // Factors per variant and layer name.
    std::vector<std::map<std::string, LowRankFactors>> factors(result.variants.size());
    const int64_t layers = model.numLayers();
    for (int64_t k = 0; k < layers; ++k) {
        job.cancel.throwIfCancelled();
        job.report("compress", k, layers, "layer " + std::to_string(k));
        started = std::chrono::steady_clock::now();
        const size_t firstReport = result.layers.size();
        std::optional<LayerInputStats> heldoutStats;
        if (heldout) {
            heldoutStats = heldout->collect(k, job);
            heldout->advance(k, job); // held-out inputs follow the original model
        }
        for (size_t gi = 0; gi < groups.size(); ++gi) {
            Group& group = groups[gi];
            const LayerInputStats stats = group.calibrator->collect(k, job);
            std::map<InputSite, int64_t> discardedBySite;
            if (request.mode == CalibrationMode::Parallel)
                group.calibrator->advance(k, job);
            clock.add("calibrate", started);
            started = std::chrono::steady_clock::now();

            for (const SelectedLinear& s : selected) {
                if (s.layer != k)
                    continue;
                job.cancel.throwIfCancelled();
                const InputStats& st = stats.forLinear(s.kind);
                const at::Tensor weight = s.original.to(at::kFloat);
                const CompressedWeight cw =
                    compressWeight(request.compression, weight, &st, s.name);
                group.compressed[s.name] = cw.weight;
                if (hooks.compressed)
                    group.kept[s.name] = cw;
                const at::Tensor dW = weight - cw.weight;

                if (gi == 0) {
                    LayerReport report;
                    report.name = s.name;
                    report.block = s.layer;
                    const std::string suffix = linearSuffix(s.kind);
                    report.kind = suffix.substr(suffix.find('.') + 1);
                    report.outFeatures = weight.size(0);
                    report.inFeatures = weight.size(1);
                    report.sparsity = cw.sparsity;
                    report.ranks.assign(result.variants.size(), 0);
                    report.errorAfter.assign(result.variants.size(), 0.0);
                    report.heldoutErrorAfter.assign(result.variants.size(), 0.0);
                    report.outputEnergy = compensatedError(weight, {}, st.gram);
                    report.errorEnergy = compensatedError(dW, {}, st.gram);
                    if (heldoutStats) {
                        const at::Tensor& c = heldoutStats->forLinear(s.kind).gram;
                        report.heldoutOutputEnergy = compensatedError(weight, {}, c);
                        report.heldoutErrorEnergy = compensatedError(dW, {}, c);
                    }
                    if (request.analyze)
                        report.analysis = analyzeLayer(weight, dW, st, s.name);
                    result.layers.push_back(std::move(report));
                }
                LayerReport* report = nullptr;
                for (LayerReport& r : result.layers)
                    if (r.name == s.name)
                        report = &r;

                // One basis per compensation method, shared by all ranks of the group.
                std::map<std::string, std::unique_ptr<CompensationBasis>> bases;
                for (size_t v : group.variants) {
                    const Variant& variant = result.variants[v];
                    const std::string key = variant.compensation.serialize();
                    const int64_t rank =
                        variant.compensation.id() == "none"
                            ? 0
                            : (variant.rank < 0 ? request.plan->rankFor(s.name) : variant.rank);
                    LowRankFactors f;
                    if (rank > 0) {
                        if (!bases.count(key)) {
                            int64_t maxRank = 0;
                            for (size_t w : group.variants)
                                if (result.variants[w].compensation.serialize() == key)
                                    maxRank = std::max(maxRank, result.variants[w].rank < 0
                                                                    ? request.plan->rankFor(s.name)
                                                                    : result.variants[w].rank);
                            bases[key] = buildCompensationBasis(variant.compensation, dW, st,
                                                                maxRank, s.name);
                            if (gi == 0 && variant.compensation.id() == "eora") {
                                // The count depends on C alone: once per input site, not per
                                // linear (q/k/v and gate/up share theirs).
                                const auto [it, fresh] =
                                    discardedBySite.try_emplace(inputSiteOf(s.kind), 0);
                                if (fresh)
                                    it->second = bases[key]->discardedModes();
                                report->discardedModes = it->second;
                            }
                        }
                        f = quantizeFactors(
                            bases[key]->factorsAt(rank),
                            static_cast<int>(variant.compensation.integer("factor_bits")));
                    }
                    report->ranks[v] = rank;
                    report->errorAfter[v] =
                        compensatedError(dW, f, st.gram) / std::max(report->outputEnergy, 1e-300);
                    if (heldoutStats)
                        report->heldoutErrorAfter[v] =
                            compensatedError(dW, f, heldoutStats->forLinear(s.kind).gram) /
                            std::max(report->heldoutOutputEnergy, 1e-300);
                    factors[v][s.name] = std::move(f);
                }
            }
            clock.add("compress", started);
            started = std::chrono::steady_clock::now();

            if (request.mode == CalibrationMode::Sequential) {
                // The next layer's inputs go through this layer as compressed and compensated.
                const size_t v = group.variants.front();
                for (const SelectedLinear& s : selected)
                    if (s.layer == k)
                        installer.install(s, group.compressed[s.name], &factors[v][s.name]);
                group.calibrator->advance(k, job);
                for (const SelectedLinear& s : selected)
                    if (s.layer == k)
                        installer.restore(s);
                clock.add("calibrate", started);
                started = std::chrono::steady_clock::now();
            }
        }
        if (hooks.layerDone && result.layers.size() > firstReport)
            hooks.layerDone(result, firstReport, result.layers.size() - firstReport);
    }
    job.report("compress", layers, layers);
    for (Group& group : groups)
        group.calibrator.reset(); // frees the calibration activations before evaluation
    heldout.reset();

    if (hooks.compressed)
        for (size_t v = 0; v < result.variants.size(); ++v) {
            Group& group = groups[request.mode == CalibrationMode::Parallel ? 0 : v];
            std::vector<CompressedLinear> linears;
            for (const SelectedLinear& s : selected)
                linears.push_back({s.name, &group.kept[s.name], &factors[v][s.name]});
            hooks.compressed(v, linears);
        }

    if (!request.evalText.empty()) {
        started = std::chrono::steady_clock::now();
        const std::string text = readTextFile(request.evalText);
        EvalOptions evalOptions = request.eval;
        const Protocol protocol =
            evalOptions.protocol ? *evalOptions.protocol : detectProtocol(text);
        TokenStream stream = buildTokenStream(text, protocol, session.tokenizer());
        stream.source = request.evalText.string();
        if (request.evaluateBaseline) {
            result.baseline = evaluatePerplexity(model, stream, evalOptions, job);
            if (hooks.evaluated)
                hooks.evaluated(std::nullopt, *result.baseline);
        }
        for (size_t v = 0; v < result.variants.size(); ++v) {
            job.cancel.throwIfCancelled();
            Group& group = groups[request.mode == CalibrationMode::Parallel ? 0 : v];
            for (const SelectedLinear& s : selected)
                installer.install(s, group.compressed[s.name], &factors[v][s.name]);
            result.variants[v].perplexity = evaluatePerplexity(model, stream, evalOptions, job);
            if (hooks.evaluated)
                hooks.evaluated(v, *result.variants[v].perplexity);
        }
        clock.add("evaluate", started);
    }
    return result;
}

} // namespace rs
