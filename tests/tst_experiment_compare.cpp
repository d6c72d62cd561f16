// rs::compareExperiments over any number of stored experiments: which rows are settings and
// which costs, what differs, every variant's values in order, the sign of a change against the
// baseline, and the errors for a bad list of ids.
#include "pipeline/experiment_compare.h"
#include "store_samples.h"
#include "util/argument_error.h"

#include <QTest>

using namespace rs;
using namespace rs::test;

namespace {

const SettingRow* rowNamed(const std::vector<SettingRow>& rows, const std::string& key) {
    for (const SettingRow& row : rows)
        if (row.key == key)
            return &row;
    return nullptr;
}

const MetricRow* metricNamed(const ExperimentComparison& c, const std::string& label) {
    for (const MetricRow& row : c.metrics)
        if (row.label == label)
            return &row;
    return nullptr;
}

} // namespace

class TestExperimentCompare : public QObject {
    Q_OBJECT

private slots:
    void init() {
        QVERIFY(m_dir.isValid());
        m_store = ExperimentStore::open(pathIn(m_dir, "compare.db"));
        const int64_t model = m_store->upsertModel(sampleModel());
        // Three runs of one model: 3-bit (baseline), 2-bit, and 2-bit with an extra rank and
        // reused statistics; the last has no evaluation of svd@4.
        m_first = completeExperiment(*m_store, model, 3);
        m_second = completeExperiment(*m_store, model, 3);
        auto third = sampleExperiment(model);
        third.compression = "rtn:bits=2,group=32";
        m_third = m_store->beginExperiment(third);
        m_store->addVariants(m_third, {{0, "svd", 4, "svd@4", 1000},
                                       {1, "eora", 8, "eora@8", 2000},
                                       {2, "eora", 16, "eora@16", 4000}});
        m_store->addLayers(m_third, {sampleLayer(0, 33)});
        m_store->addEvaluation(m_third, evaluation(std::nullopt, 3.6));
        m_store->addEvaluation(m_third, evaluation(1, 3.9));
        const int64_t artefact = m_store->addArtefact({0, "k1", "statistics", "calib", 64, {}, {}});
        m_store->setCalibrationArtefact(m_third, artefact, true);
        m_store->finishExperiment(m_third, ExperimentStatus::Done, {{"compress", 5.5}});
    }

    void settingsAndCostsAreSeparate() {
        const ExperimentComparison c = compareExperiments(*m_store, {m_first, m_second, m_third});
        QCOMPARE(c.ids, (std::vector<int64_t>{m_first, m_second, m_third}));
        const SettingRow* compression = rowNamed(c.settings, "compression");
        QVERIFY(compression);
        QCOMPARE(compression->values,
                 (std::vector<std::string>{"rtn:bits=3,group=32", "rtn:bits=3,group=32",
                                           "rtn:bits=2,group=32"}));
        QVERIFY(compression->differs());
        QVERIFY(!rowNamed(c.settings, "model")->differs());
        // Timings and caching are costs, not what defines the experiment.
        for (const char* key : {"statistics", "compress time", "calibrate time"}) {
            QVERIFY2(!rowNamed(c.settings, key), key);
            QVERIFY2(rowNamed(c.costs, key), key);
        }
        QCOMPARE(rowNamed(c.costs, "statistics")->values,
                 (std::vector<std::string>{"computed", "computed", "reused"}));
        QCOMPARE(rowNamed(c.costs, "compress time")->values,
                 (std::vector<std::string>{"2.00 s", "2.00 s", "5.50 s"}));
        QCOMPARE(rowNamed(c.costs, "calibrate time")->values,
                 (std::vector<std::string>{"-", "-", "-"}));
        QVERIFY(!rowNamed(c.costs, "calibrate time")->differs());
    }

    void metricsCoverEveryVariant() {
        const ExperimentComparison c = compareExperiments(*m_store, {m_first, m_third});
        std::vector<std::string> labels;
        for (const MetricRow& row : c.metrics)
            labels.push_back(row.label);
        // The original first, then the variants in order of appearance.
        QCOMPARE(labels, (std::vector<std::string>{"original", "svd@4", "eora@8", "eora@16"}));
        const MetricRow* svd = metricNamed(c, "svd@4");
        QCOMPARE(svd->perplexity[0], std::optional<double>(4.5));
        QVERIFY(!svd->perplexity[1]); // not evaluated in the third run
        QVERIFY(!svd->perplexityChange(1, 0));
        const MetricRow* wide = metricNamed(c, "eora@16");
        QVERIFY(!wide->perplexity[0] && !wide->meanError[0]);
        QVERIFY(wide->meanError[1]);
    }

    void changesAreExperimentMinusBaseline() {
        const ExperimentComparison c = compareExperiments(*m_store, {m_first, m_third});
        const MetricRow* eora = metricNamed(c, "eora@8");
        // 3.9 (third) against 4.1 (first): better, so negative.
        QCOMPARE(*eora->perplexityChange(1, 0), 3.9 - 4.1);
        QVERIFY(*eora->perplexityChange(1, 0) < 0);
        QCOMPARE(*eora->perplexityChange(0, 1), 4.1 - 3.9);
        QCOMPARE(*eora->perplexityChange(0, 0), 0.0);
        QVERIFY(!eora->perplexityChange(2, 0)); // no such experiment
    }

    void badListsAreRefused() {
        const auto message = [this](const std::vector<int64_t>& ids) {
            try {
                compareExperiments(*m_store, ids);
            } catch (const ArgumentError& e) {
                return std::string(e.what());
            }
            return std::string("no error");
        };
        QVERIFY(contains(message({m_first}), "at least two experiments, got 1"));
        QVERIFY(contains(message({m_first, m_second, m_first}),
                         "experiment " + std::to_string(m_first) + " is listed twice"));
        const std::string missing = message({m_first, 99});
        QVERIFY2(contains(missing, "compare.db") && contains(missing, "no experiment 99"),
                 missing.c_str());
    }

private:
    QTemporaryDir m_dir;
    std::unique_ptr<ExperimentStore> m_store;
    int64_t m_first = 0, m_second = 0, m_third = 0;
};

QTEST_GUILESS_MAIN(TestExperimentCompare)
#include "tst_experiment_compare.moc"
