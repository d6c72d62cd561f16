// plan: rank plans under a global adapter budget from the curves of a stored experiment, and
// optionally the compensation with that plan and its perplexity.
#include "budget/resolve.h"
#include "budget_args.h"
#include "commands.h"
#include "io/atomicfile.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/rank_planning.h"
#include "pipeline/request_json.h"
#include "pipeline/sensitivity.h"
#include "pipeline/session.h"
#include "run_options.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/text.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace rs::cli {

std::vector<OptionSpec> constraintOptions() {
    return {{"--align", "N", "ranks are multiples of N (e.g. 8 or 16; default 1)"},
            {"--min-rank", "N", "lowest rank of every layer (default 0)"},
            {"--max-rank", "N", "highest rank of every layer (default min(d_out, d_in))"},
            {"--override", "PAT=R",
             "fixed rank R (or MIN:MAX bounds) for layers matching PAT, like PEFT's rank_pattern "
             "(repeatable)"},
            {"--exclude", "REGEX", "no adapter for layers matching REGEX (repeatable)"},
            {"--weights", "W",
             "layer weights: sensitivity (measured perplexity increase per layer, cached; the "
             "default of plan when the experiment has an evaluation text), energy (errors "
             "relative to each layer's output energy; the default otherwise and of tradeoff) or "
             "equal"}};
}

PlanConstraints parseConstraints(const ParsedArgs& args) {
    PlanConstraints c;
    const auto integer = [&](const char* name, int64_t fallback, int64_t lowest) {
        const int64_t v = args.integer(name).value_or(fallback);
        if (v < lowest)
            throw UsageError(std::string(name) + " must be at least " + std::to_string(lowest));
        return v;
    };
    c.align = integer("--align", 1, 1);
    c.minRank = integer("--min-rank", 0, 0);
    c.maxRank = args.value("--max-rank") ? integer("--max-rank", 0, 0) : -1;
    for (const std::string& text : args.values("--override"))
        c.overrides.push_back(parseRankRule(text));
    c.exclude = args.values("--exclude");
    return c;
}

LayerWeighting parseWeights(const ParsedArgs& args, const std::string& fallback) {
    try {
        return parseWeighting(args.valueOr("--weights", fallback));
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

const char* objectiveName(LayerWeighting weighting) {
    switch (weighting) {
    case LayerWeighting::Equal:
        return "sum of output errors tr((dW-BA) C (dW-BA)^T), absolute";
    case LayerWeighting::Energy:
        return "sum of relative output errors";
    case LayerWeighting::Sensitivity:
        return "predicted perplexity increase";
    }
    return "";
}

namespace {

// At most one budget option, as a BudgetSpec.
std::optional<BudgetSpec> budgetArg(const ParsedArgs& args) {
    const std::pair<const char*, const char*> options[] = {{"--budget-params", ""},
                                                           {"--budget-percent", "%"},
                                                           {"--bpw", "bpw"},
                                                           {"--budget-rank", "r"}};
    std::optional<BudgetSpec> out;
    for (const auto& [name, unit] : options) {
        const auto value = args.value(name);
        if (!value)
            continue;
        if (out)
            throw UsageError("give exactly one of --budget-params, --budget-percent, --bpw and "
                             "--budget-rank");
        const std::string text = std::string(unit) == "r" ? "r" + *value : *value + unit;
        try {
            out = parseBudget(text);
        } catch (const Error& e) {
            throw UsageError(e.what());
        }
    }
    return out;
}

// --break-even F: a fraction of every layer's break-even rank instead of a budget.
std::optional<double> breakEvenArg(const ParsedArgs& args) {
    const auto text = args.value("--break-even");
    if (!text)
        return std::nullopt;
    try {
        size_t used = 0;
        const double f = std::stod(*text, &used);
        if (used == text->size() && f >= 0 && std::isfinite(f))
            return f;
    } catch (const std::exception&) {
    }
    throw UsageError("--break-even takes a non-negative fraction, got '" + *text + "'");
}

void printPlan(const RankPlanner& planner, const Plan& plan, const std::vector<LayerRecord>& layers,
               const SizeModel& size, LayerWeighting weighting, bool optimised) {
    std::printf("\n%-32s %11s %5s %10s %12s %12s\n", "layer", "d_out x d_in", "rank", "params",
                "error before", "error after");
    for (size_t l = 0; l < layers.size(); ++l) {
        const LayerRecord& r = layers[l];
        const std::vector<double>& curve = planner.layers()[l].curve;
        const double energy = std::max(r.outputEnergy, 1e-300);
        char shape[32];
        std::snprintf(shape, sizeof shape, "%lldx%lld", static_cast<long long>(r.outFeatures),
                      static_cast<long long>(r.inFeatures));
        std::printf("%-32s %11s %5lld %10s %12.5f %12.5f\n",
                    r.name.substr(r.name.rfind("model.", 0) == 0 ? 6 : 0).c_str(), shape,
                    static_cast<long long>(plan.ranks[l]),
                    formatCount(plan.ranks[l] * planner.layers()[l].rankCost()).c_str(),
                    curve.front() / energy,
                    curve[size_t(std::min<int64_t>(plan.ranks[l], int64_t(curve.size()) - 1))] /
                        energy);
    }
    std::printf("(errors: relative output error tr((dW-BA) C (dW-BA)^T) / tr(W C W^T), "
                "calibration)\n");
    std::printf("\nadapter: %s params = %.4f %% of %s model params; %.4f bits per weight over "
                "the compressed layers (%d-bit weights, quantization overhead and fp16 adapters; "
                "%.4f bpw without adapters)\n",
                formatCount(plan.parameters).c_str(), size.percentOfModel(plan.parameters),
                formatCount(size.modelParameters()).c_str(), size.bitsPerWeight(plan.parameters),
                size.format().bits, size.baseBitsPerWeight());
    if (!optimised) {
        std::printf("predicted error (%s, %s weights): %.6g\n", objectiveName(weighting),
                    weightingName(weighting), plan.objective);
        return;
    }
    std::printf("predicted error (%s, %s weights): %.6g; lower bound of any plan in this budget "
                "%.6g (gap at most %.3g %%)\n",
                objectiveName(weighting), weightingName(weighting), plan.objective, plan.lowerBound,
                plan.objective > 0 ? 100.0 * (plan.objective - plan.lowerBound) / plan.objective
                                   : 0.0);
}

// The largest uniform rank whose parameters fit the budget, for comparison.
Plan uniformWithin(const RankPlanner& planner, int64_t budget, int64_t& rank) {
    Plan best = planner.uniform(0);
    rank = 0;
    for (int64_t r = 1; r <= 1 << 16; ++r) {
        const Plan p = planner.uniform(r);
        if (p.parameters > budget || p.ranks == best.ranks)
            break;
        best = p;
        rank = r;
    }
    return best;
}

int runPlan(const ParsedArgs& args, const JobContext& job) {
    const int64_t id = experimentId(args.positional(0));
    const std::optional<BudgetSpec> budget = budgetArg(args);
    const std::optional<double> breakEven = breakEvenArg(args);
    if (budget.has_value() == breakEven.has_value())
        throw UsageError(
            "'plan' needs exactly one of a budget (--budget-params N, --budget-percent "
            "P, --bpw B, --budget-rank R) and --break-even F");
    const PlanConstraints constraints = parseConstraints(args);
    parseWeights(args, "energy"); // a bad name is a usage error before any work
    if (!args.flag("--apply") && (args.value("--eval") || args.value("--max-windows")))
        throw UsageError("--eval and --max-windows only apply with --apply");

    std::unique_ptr<ExperimentStore> store = openRecordedStore(args);
    const StoredCurves curves = loadStoredCurves(*store, id, args.value("--comp"));
    // Measured on stories260K (README): only sensitivity weights beat uniform rank in perplexity;
    // they need the experiment's evaluation text.
    const LayerWeighting weighting =
        parseWeights(args, curves.experiment.evalDatasetId && budget ? "sensitivity" : "energy");
    std::shared_ptr<ModelSession> session;
    std::vector<double> sensitivity;
    const int64_t windows = args.integer("--sensitivity-windows").value_or(8);
    if (windows < 0)
        throw UsageError("--sensitivity-windows must not be negative");
    const SizeModel size = sizeModelOf(curves.model.parameters, curves.layers, curves.compression);
    if (weighting == LayerWeighting::Sensitivity) {
        // Bad constraints and budgets fail before the measurement, which takes minutes.
        const RankPlanner check(
            planLayers(curves.layers, curves.compensation, LayerWeighting::Equal), constraints);
        if (budget)
            check.optimal(budgetParameters(*budget, check, size));
        session = ModelSession::open(curves.model.path, openOptions(args), job);
        sensitivity = layerSensitivities(*session, *store, curves, windows, job);
    }
    const RankPlanner planner(
        planLayers(curves.layers, curves.compensation, weighting, sensitivity), constraints);
    const Plan plan = budget ? planner.optimal(budgetParameters(*budget, planner, size))
                             : planner.uniformFraction(*breakEven);
    const int64_t parameters = budget ? budgetParameters(*budget, planner, size) : plan.parameters;
    const std::string budgetText =
        budget ? budget->text() : "break-even x " + std::to_string(*breakEven).substr(0, 6);

    std::printf("experiment %lld: %s, %s curves, %s layer weights; %s %s = %s params\n",
                static_cast<long long>(id), curves.compression.serialize().c_str(),
                curves.compensation.id().c_str(), weightingName(weighting),
                budget ? "budget" : "ranks", budgetText.c_str(), formatCount(parameters).c_str());
    printPlan(planner, plan, curves.layers, size, weighting, budget.has_value());
    if (!budget)
        std::printf("budget-optimal plan with the same parameters: predicted error %.6g\n",
                    planner.optimal(parameters).objective);
    int64_t uniformRank = 0;
    const Plan uniform = uniformWithin(planner, parameters, uniformRank);
    std::printf("uniform rank %lld in the same budget: %s params, predicted error %.6g\n",
                static_cast<long long>(uniformRank), formatCount(uniform.parameters).c_str(),
                uniform.objective);

    nlohmann::json out = {{"experiment", id},
                          {"budget", budgetText},
                          {"budget_parameters", parameters},
                          {"weights", weightingName(weighting)},
                          {"adapter_parameters", plan.parameters},
                          {"percent_of_model", size.percentOfModel(plan.parameters)},
                          {"bits_per_weight", size.bitsPerWeight(plan.parameters)},
                          {"predicted_error", plan.objective},
                          {"lower_bound", plan.lowerBound}};
    for (size_t l = 0; l < plan.ranks.size(); ++l)
        out["ranks"][curves.layers[l].name] = plan.ranks[l];

    if (args.flag("--apply")) {
        CompressRequest request = compressRequestOf(curves.experiment);
        request.plan = toRankPlan(planner, plan);
        request.compensations = {curves.compensation};
        if (const auto eval = args.value("--eval"))
            request.inputs.evalText = std::filesystem::weakly_canonical(*eval);
        if (request.inputs.evalText.empty())
            throw UsageError("experiment " + std::to_string(id) +
                             " had no evaluation text: give --eval FILE");
        if (const auto windows = args.integer("--max-windows"))
            request.inputs.eval.maxWindows = *windows;
        if (!session)
            session = ModelSession::open(curves.model.path, openOptions(args), job);
        ArtefactCache cache(defaultCacheDirectory());
        RecordOptions options;
        options.name = args.valueOr("--name", "plan of experiment " + std::to_string(id) + ", " +
                                                  budgetText + ", " + weightingName(weighting));
        const RecordedCompression run =
            runRecordedCompression(*session, request, *store, cache, options, job);
        const PerplexityResult& p = *run.result.variants.back().perplexity;
        std::printf("\napplied: %s@plan perplexity %.4f (%s, seq_len %lld, %s predicted tokens); "
                    "recorded as experiment %lld\n",
                    curves.compensation.id().c_str(), p.perplexity, p.protocol.c_str(),
                    static_cast<long long>(p.seqLen), formatCount(p.predictedTokens).c_str(),
                    static_cast<long long>(run.experimentId));
        out["perplexity"] = p.perplexity;
        out["applied_experiment"] = run.experimentId;
    }
    if (const auto json = args.value("--json"))
        writeFileAtomically(*json, out.dump(2) + "\n");
    return kExitOk;
}

} // namespace

std::vector<Command> budgetCommands() {
    std::vector<OptionSpec> options = {
        {"--budget-params", "N", "adapter budget in parameters"},
        {"--budget-percent", "P", "adapter budget in percent of the model's parameters"},
        {"--bpw", "B", "average bits per weight of the compressed layers, adapters included"},
        {"--budget-rank", "R", "as many parameters as uniform rank R"},
        {"--break-even", "F",
         "no budget: every layer at F times its break-even rank d_out d_in / (d_out + d_in)"},
        {"--comp", "METHOD", "plan with this compensation's curves (eora or svd)"}};
    for (const OptionSpec& o : constraintOptions())
        options.push_back(o);
    for (const OptionSpec& o : std::vector<OptionSpec>{
             {"--sensitivity-windows", "N",
              "windows per perplexity when measuring sensitivities (default 8, 0: all)"},
             {"--apply", "", "run the compensation with the plan and evaluate it (new experiment)"},
             {"--eval", "FILE", "evaluation text for --apply (default: the experiment's)"},
             kMaxWindows,
             kName,
             {"--json", kOutputFile, "write the plan as JSON"},
             kDb,
             kTokenizer,
             kDtype,
             kDevice,
             kMaxMemory})
        options.push_back(o);
    return {{{"plan",
              "EXPERIMENT_ID (--budget-params N | --budget-percent P | --bpw B | --budget-rank R) "
              "[--align 8] [--override 'down_proj=64'] [--weights energy|equal|sensitivity] "
              "[--apply]",
              "Allocate adapter ranks across layers under a global budget, from the error curves\n"
              "of a stored experiment: minimises the weighted sum of the layers' predicted\n"
              "errors (lower convex hulls, greedy on error removed per parameter). Prints every\n"
              "layer's rank, parameters and predicted error; --apply runs the compensation with\n"
              "the plan and records its perplexity as a new experiment.",
              {"EXPERIMENT_ID"},
              options},
             runPlan},
            tradeoffCommand()};
}

} // namespace rs::cli
