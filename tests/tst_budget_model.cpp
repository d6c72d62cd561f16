// Rank plans on the real curves of stories260K: exact search on real curves, the plan's
// predicted per-layer errors against the errors of the fitted factors, applying a plan, and a
// small bits x budget trade-off sweep recorded in the store.
#include "budget/planner.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/rank_planning.h"
#include "pipeline/sensitivity.h"
#include "pipeline/session.h"
#include "pipeline/tradeoff.h"
#include "store/artefact_cache.h"
#include "store/database.h"
#include "store/experiment_store.h"
#include "store/schema.h"
#include "store/sensitivity.h"
#include "test_session.h"
#include "testdata.h"

#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <limits>

namespace {

// The stored curve is float64 from one decomposition; the fitted factors are float32.
constexpr double kCurveTolerance = 1e-4; // relative to the layer's output energy
constexpr double kObjectiveTolerance = 1e-9;

rs::CompressRequest baseRequest() {
    rs::CompressRequest r;
    r.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    r.inputs.calibTokens = 4096;
    r.compression = rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    r.compensations = {rs::MethodConfig::parse("eora", rs::MethodKind::Compensation)};
    r.ranks = {8};
    r.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    r.inputs.eval.maxWindows = 8;
    r.heldoutTokens = 0;
    return r;
}

double exactOptimum(const rs::RankPlanner& planner, int64_t budget) {
    std::vector<double> best(size_t(budget) + 1, 0.0);
    for (size_t l = 0; l < planner.layers().size(); ++l) {
        const rs::PlanLayer& layer = planner.layers()[l];
        const rs::RankRange& range = planner.ranges()[l];
        std::vector<double> next(best.size(), std::numeric_limits<double>::infinity());
        for (int64_t r = range.lo; r <= range.hi; r += range.step) {
            const int64_t cost = r * layer.rankCost();
            const double e = layer.weight * layer.curve[size_t(r)];
            for (int64_t b = cost; b <= budget; ++b)
                next[size_t(b)] = std::min(next[size_t(b)], best[size_t(b - cost)] + e);
        }
        best = std::move(next);
    }
    return best[size_t(budget)];
}

} // namespace

class TestBudgetModel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void planOnRealCurves();
    void tradeoffSweep();
    void sensitivitiesAreMeasuredOnceAndCached();
    void sensitivityTableMigration();

private:
    QTemporaryDir m_dir;
    std::unique_ptr<rs::ExperimentStore> m_store;
    std::unique_ptr<rs::ArtefactCache> m_cache;
    std::shared_ptr<rs::ModelSession> m_session;
};

void TestBudgetModel::initTestCase() {
    QVERIFY(m_dir.isValid());
    const std::filesystem::path root = m_dir.path().toStdString();
    m_store = rs::ExperimentStore::open(root / "rankscope.db");
    m_cache = std::make_unique<rs::ArtefactCache>(root / "cache");
    m_session = rs::test::openDemo();
}

void TestBudgetModel::planOnRealCurves() {
    // Recorded as the workbench records its defaults: the baselines first, then EoRA. The plan
    // uses EoRA's curves unless another compensation is asked for.
    rs::CompressRequest workbench = baseRequest();
    workbench.compensations.clear();
    for (const char* c : {"none", "svd", "eora"})
        workbench.compensations.push_back(rs::MethodConfig::parse(c, rs::MethodKind::Compensation));
    const rs::RecordedCompression uniformRun =
        rs::runRecordedCompression(*m_session, workbench, *m_store, *m_cache);
    QCOMPARE(rs::loadStoredCurves(*m_store, uniformRun.experimentId, "svd").compensation.id(),
             std::string("svd"));
    const rs::StoredCurves curves = rs::loadStoredCurves(*m_store, uniformRun.experimentId);
    QCOMPARE(curves.compensation.id(), std::string("eora"));
    QCOMPARE(curves.layers.size(), size_t(35));

    for (rs::LayerWeighting w : {rs::LayerWeighting::Energy, rs::LayerWeighting::Equal}) {
        const rs::RankPlanner planner(rs::planLayers(curves.layers, curves.compensation, w));
        for (int64_t rank : {4, 8, 16}) {
            const rs::Plan uniform = planner.uniform(rank);
            const rs::Plan best = planner.optimal(uniform.parameters);
            QVERIFY(best.parameters <= uniform.parameters);
            QVERIFY(best.objective <= uniform.objective);
            const double optimum = exactOptimum(planner, uniform.parameters);
            QVERIFY(best.objective >= optimum * (1 - kObjectiveTolerance));
            QVERIFY(best.lowerBound <= optimum * (1 + kObjectiveTolerance));
            qInfo("%s weights, budget of uniform rank %d (%lld params): uniform %.6g, plan "
                  "%.6g, exact optimum %.6g (plan above it by %.4f %%)",
                  rs::weightingName(w), int(rank), static_cast<long long>(uniform.parameters),
                  uniform.objective, best.objective, optimum,
                  100.0 * (best.objective - optimum) / optimum);
        }
    }

    // Apply the energy-weighted plan of the rank-8 budget: the fitted factors reach exactly
    // the errors the curves predicted, layer by layer.
    const rs::RankPlanner planner(
        rs::planLayers(curves.layers, curves.compensation, rs::LayerWeighting::Energy));
    const rs::Plan plan = planner.optimal(planner.uniform(8).parameters);
    rs::CompressRequest request = baseRequest();
    request.plan = rs::toRankPlan(planner, plan);
    const rs::RecordedCompression planned =
        rs::runRecordedCompression(*m_session, request, *m_store, *m_cache);
    QCOMPARE(planned.result.variants.size(), size_t(1));
    QCOMPARE(planned.result.variants[0].adapterParameters, plan.parameters);
    const std::vector<rs::LayerRecord> layers = m_store->layers(planned.experimentId, false);
    for (size_t l = 0; l < layers.size(); ++l) {
        QCOMPARE(layers[l].ranks[0], plan.ranks[l]);
        const double predicted =
            planner.layers()[l].curve[size_t(plan.ranks[l])] / curves.layers[l].outputEnergy;
        QVERIFY2(std::fabs(layers[l].errorAfter[0] - predicted) <= kCurveTolerance,
                 layers[l].name.c_str());
    }
    QVERIFY(m_store->experiment(planned.experimentId)->rankPlan.find("\"layers\"") !=
            std::string::npos);
    qInfo("rank-8 budget, %lld windows: uniform eora@8 perplexity %.4f, planned %.4f",
          static_cast<long long>(request.inputs.eval.maxWindows),
          uniformRun.result.variants.back().perplexity->perplexity,
          planned.result.variants[0].perplexity->perplexity);
}

void TestBudgetModel::tradeoffSweep() {
    rs::TradeoffRequest request;
    request.base = baseRequest();
    request.base.inputs.eval.maxWindows = 2;
    request.bits = {2, 4};
    request.groups = {32};
    request.budgets = rs::parseBudgetList("r2,r8");
    request.evaluate = 3;
    const size_t before = m_store->listExperiments().size();
    const rs::TradeoffResult result = rs::runTradeoff(*m_session, request, *m_store, *m_cache);
    QCOMPARE(result.rows.size(), size_t(4));
    QCOMPARE(result.curveExperiments.size(), size_t(2));
    size_t front = 0, evaluated = 0;
    for (const rs::TradeoffRow& row : result.rows) {
        QVERIFY(row.skipped.empty());
        QVERIFY(row.bitsPerWeight > double(row.bits));
        front += row.front;
        if (row.perplexity) {
            ++evaluated;
            QVERIFY(row.front);
            QVERIFY(*row.perplexity > 1.0);
            const auto recorded = m_store->experiment(row.experimentId);
            QVERIFY(recorded.has_value());
            QCOMPARE(recorded->compression, row.compression);
        }
    }
    // More bits and more budget both cost size: (4 bits, r8) is the largest point and has the
    // lowest predicted error, so it is always on the front.
    QVERIFY(result.rows[3].front);
    QCOMPARE(evaluated, std::min<size_t>(front, 3));
    QCOMPARE(m_store->listExperiments().size(), before + 2 + evaluated);
    QCOMPARE(result.spearman.has_value(), evaluated >= 3);
}

void TestBudgetModel::sensitivitiesAreMeasuredOnceAndCached() {
    const rs::RecordedCompression run =
        rs::runRecordedCompression(*m_session, baseRequest(), *m_store, *m_cache);
    const rs::StoredCurves curves = rs::loadStoredCurves(*m_store, run.experimentId);
    int progress = 0;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent&) { ++progress; };
    const std::vector<double> first = rs::layerSensitivities(*m_session, *m_store, curves, 1, job);
    QCOMPARE(first.size(), size_t(35));
    // 3-bit RTN of a single layer costs perplexity for most layers.
    QVERIFY(std::count_if(first.begin(), first.end(), [](double d) { return d > 0; }) > 17);
    QVERIFY(progress > 35);
    // The second call reads the store: the same numbers, and no job runs (no compress stage).
    int stages = 0;
    rs::JobContext quiet;
    quiet.progress = [&](const rs::ProgressEvent& e) { stages += e.stage != "sensitivity"; };
    QCOMPARE(rs::layerSensitivities(*m_session, *m_store, curves, 1, quiet), first);
    QCOMPARE(stages, 0);
    const rs::RankPlanner planner(
        rs::planLayers(curves.layers, curves.compensation, rs::LayerWeighting::Sensitivity, first));
    QVERIFY(planner.optimal(planner.uniform(8).parameters).objective <=
            planner.uniform(8).objective);
}

void TestBudgetModel::sensitivityTableMigration() {
    QTemporaryDir dir;
    const std::filesystem::path file = std::filesystem::path(dir.path().toStdString()) / "v2.db";
    {
        rs::store::Database db(file, rs::store::Database::Mode::ReadWrite, 1000);
        rs::store::migrateTo(db, 2);
    }
    const auto store = rs::ExperimentStore::open(file);
    QVERIFY(store->schemaVersion() >= 3);
    QVERIFY(rs::loadSensitivities(*store, "k").empty());
    rs::saveSensitivity(*store, "k", {"model.layers.0.mlp.down_proj", 4.5, 4.0, 512});
    rs::saveSensitivity(*store, "k", {"model.layers.0.mlp.down_proj", 4.25, 4.0, 512});
    rs::saveSensitivity(*store, "other", {"model.layers.0.mlp.down_proj", 9.0, 4.0, 512});
    const std::vector<rs::SensitivityRecord> saved = rs::loadSensitivities(*store, "k");
    QCOMPARE(saved.size(), size_t(1));
    QCOMPARE(saved[0].perplexity, 4.25);
    QCOMPARE(saved[0].baseline, 4.0);
    QCOMPARE(saved[0].tokens, int64_t(512));
}

QTEST_GUILESS_MAIN(TestBudgetModel)
#include "tst_budget_model.moc"
