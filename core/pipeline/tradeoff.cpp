#include "pipeline/tradeoff.h"

#include "budget/pareto.h"
#include "budget/resolve.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/rank_planning.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "util/error.h"

#include <cmath>

namespace rs {

namespace {

std::vector<int64_t> registryGroups(const MethodConfig& method) {
    std::vector<int64_t> out;
    for (const std::string& g : method.spec().param("group")->choices)
        out.push_back(std::stoll(g));
    return out;
}

// Up to n indices of `front`, spread evenly and always with both ends.
std::vector<size_t> spread(const std::vector<size_t>& front, size_t n) {
    if (front.size() <= n)
        return front;
    std::vector<size_t> out;
    for (size_t i = 0; i < n; ++i) {
        const size_t k =
            n == 1 ? 0 : size_t(std::lround(double(i) * double(front.size() - 1) / double(n - 1)));
        if (out.empty() || out.back() != front[k])
            out.push_back(front[k]);
    }
    return out;
}

bool sweepable(const MethodSpec& method) {
    return method.sweepsBitsAndGroups();
}

} // namespace

TradeoffResult runTradeoff(ModelSession& session, const TradeoffRequest& request,
                           ExperimentStore& store, ArtefactCache& cache, const JobContext& job) {
    const MethodConfig method = MethodConfig::defaults(request.method, MethodKind::Compression);
    if (!method.spec().sweepsBitsAndGroups())
        fail("trade-off", "method " + request.method + " has no bits and group to sweep (" +
                              methodIds(MethodKind::Compression, sweepable) + " have)");
    if (request.base.inputs.evalText.empty())
        fail("trade-off", "needs an evaluation text");
    if (request.budgets.empty())
        fail("trade-off", "no budgets given");
    requirePlannableCompensation(request.compensation, "trade-off");
    const std::vector<int64_t> groups =
        request.groups.empty() ? registryGroups(method) : request.groups;

    TradeoffResult result;
    std::vector<RankPlan> plans; // per row
    std::vector<MethodConfig> compressions;
    const size_t configs = request.bits.size() * groups.size();
    size_t done = 0;
    for (int64_t bits : request.bits) {
        for (int64_t group : groups) {
            MethodConfig compression = method;
            compression.set("bits", std::to_string(bits));
            compression.set("group", std::to_string(group));
            job.report("tradeoff", int64_t(done++), int64_t(configs), compression.serialize());
            CompressRequest sweep = request.base;
            sweep.compression = compression;
            sweep.compensations = {MethodConfig::defaults("none", MethodKind::Compensation)};
            sweep.plan.reset();
            sweep.inputs.evalText.clear();
            sweep.inputs.analyze = true;
            sweep.inputs.evaluateBaseline = false;
            RecordOptions options;
            options.name = "tradeoff curves " + compression.serialize();
            const int64_t id =
                runRecordedCompression(session, sweep, store, cache, options, job).experimentId;
            result.curveExperiments.push_back(id);
            const StoredCurves curves =
                loadStoredCurves(store, id, request.compensation.serialize());
            const RankPlanner planner(
                planLayers(curves.layers, request.compensation, request.weighting),
                request.constraints);
            const SizeModel size =
                sizeModelOf(session.summary().totalParameters, curves.layers, compression);
            for (const BudgetSpec& budget : request.budgets) {
                TradeoffRow row;
                row.compression = compression.serialize();
                row.bits = bits;
                row.group = group;
                row.budget = budget.text();
                try {
                    const Plan plan = planner.optimal(budgetParameters(budget, planner, size));
                    row.adapterParameters = plan.parameters;
                    row.predictedError = plan.objective;
                    plans.push_back(toRankPlan(planner, plan));
                } catch (const CancelledError&) {
                    throw;
                } catch (const Error& e) {
                    row.skipped = e.what();
                    plans.emplace_back();
                }
                row.bitsPerWeight = size.bitsPerWeight(row.adapterParameters);
                row.percentOfModel = size.percentOfModel(row.adapterParameters);
                result.rows.push_back(row);
                compressions.push_back(compression);
            }
        }
    }
    job.report("tradeoff", int64_t(configs), int64_t(configs));

    std::vector<TradeoffPoint> points;
    std::vector<size_t> rowOf;
    for (size_t i = 0; i < result.rows.size(); ++i)
        if (result.rows[i].skipped.empty()) {
            points.push_back({result.rows[i].bitsPerWeight, result.rows[i].predictedError});
            rowOf.push_back(i);
        }
    std::vector<size_t> front;
    for (size_t p : paretoFront(points)) {
        result.rows[rowOf[p]].front = true;
        front.push_back(rowOf[p]);
    }

    std::vector<double> predicted, measured;
    const std::vector<size_t> chosen =
        spread(front, size_t(std::max<int64_t>(request.evaluate, 0)));
    for (size_t n = 0; n < chosen.size(); ++n) {
        TradeoffRow& row = result.rows[chosen[n]];
        job.report("evaluate", int64_t(n), int64_t(chosen.size()),
                   row.compression + " " + row.budget);
        CompressRequest eval = request.base;
        eval.compression = compressions[chosen[n]];
        eval.compensations = {request.compensation};
        eval.plan = plans[chosen[n]];
        RecordOptions options;
        options.name = "tradeoff " + row.compression + " budget " + row.budget;
        options.notes = "planned with " + std::string(weightingName(request.weighting)) +
                        " layer weights; predicted error " + std::to_string(row.predictedError);
        const RecordedCompression run =
            runRecordedCompression(session, eval, store, cache, options, job);
        const Variant& variant = run.result.variants.back();
        row.perplexity = variant.perplexity->perplexity;
        row.experimentId = run.experimentId;
        result.protocol = *variant.perplexity;
        predicted.push_back(row.predictedError);
        measured.push_back(*row.perplexity);
    }
    if (predicted.size() >= 3)
        result.spearman = spearman(predicted, measured);
    return result;
}

} // namespace rs
