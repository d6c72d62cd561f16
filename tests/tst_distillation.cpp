// The Distillation view on a real Lillama run of stories260K, recorded in a real experiment store
// and read back the way the workbench reads an experiment (loadExperiment).
#include "distillationview.h"
#include "experimentloader.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/session.h"
#include "plotexport.h"
#include "store/experiment_store.h"
#include "test_session.h"
#include "testdata.h"

#include <QComboBox>
#include <QLabel>
#include <QStackedWidget>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <qcustomplot.h>

using rs::ui::DistillationView;

namespace {

constexpr int kSteps = 5;
constexpr int64_t kBlocks = 5; // stories260K

std::vector<double> values(const QCPGraph* graph) {
    std::vector<double> out;
    for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it)
        out.push_back(it->value);
    return out;
}

std::vector<double> keys(const QCPGraph* graph) {
    std::vector<double> out;
    for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it)
        out.push_back(it->key);
    return out;
}

} // namespace

class TestDistillation : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void storeKeepsEveryBlocksLosses();
    void allBlocksOverlayTheCheckedLosses();
    void oneBlockShowsTrainingLossAndKeptStep();
    void unknownBlockIsRefused();
    void logScaleKeepsThePoints();
    void experimentWithoutDistillationExplainsItself();
    void csvHoldsTheLosses();

private:
    QTemporaryDir m_dir;
    std::filesystem::path m_database;
    rs::ui::LoadedExperiment m_loaded;
    rs::ui::LoadedExperiment m_lord;
};

void TestDistillation::initTestCase() {
    QVERIFY(m_dir.isValid());
    m_database = std::filesystem::path(m_dir.filePath(QStringLiteral("store.db")).toStdString());
    auto session = rs::test::openDemo();
    auto store = rs::ExperimentStore::open(m_database);
    rs::LowRankRequest request;
    request.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    request.inputs.calibTokens = 1024;
    request.inputs.calibSeqLen = 128;
    request.inputs.analyze = false;
    request.uniformRank = 8;
    request.method = rs::MethodConfig::parse("lillama:steps=" + std::to_string(kSteps) + ",batch=2",
                                             rs::MethodKind::LowRank);
    const int64_t lillama = rs::runRecordedLowRank(*session, request, *store).experimentId;
    request.method = rs::MethodConfig::parse("lord-data", rs::MethodKind::LowRank);
    const int64_t lord = rs::runRecordedLowRank(*session, request, *store).experimentId;
    store.reset();
    m_loaded = rs::ui::loadExperiment(m_database, lillama);
    m_lord = rs::ui::loadExperiment(m_database, lord);
}

void TestDistillation::storeKeepsEveryBlocksLosses() {
    QCOMPARE(int64_t(m_loaded.distillations.size()), kBlocks);
    for (const rs::DistillationRecord& r : m_loaded.distillations) {
        QCOMPARE(r.variant, 0);
        QCOMPARE(r.trainLoss.size(), size_t(kSteps));
        QVERIFY(!r.evalSteps.empty());
        QCOMPARE(r.evalSteps.front(), int64_t(0)); // the SVD initialisation is checked first
        QCOMPARE(r.evalSteps.size(), r.evalLoss.size());
        // The kept step is the lowest checked loss.
        const auto lowest = std::min_element(r.evalLoss.begin(), r.evalLoss.end());
        QCOMPARE(r.evalSteps[size_t(lowest - r.evalLoss.begin())], r.bestStep);
    }
    QVERIFY(m_lord.distillations.empty());
    // Both are low-rank runs: the views name their curves weight SVD and data-aware.
    QVERIFY(m_loaded.lowRank);
    QVERIFY(m_lord.lowRank);
}

void TestDistillation::allBlocksOverlayTheCheckedLosses() {
    DistillationView view;
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    QCOMPARE(view.findChild<QStackedWidget*>()->currentIndex(), 1);
    QCOMPARE(view.currentBlock(), DistillationView::kAllBlocks);
    QCOMPARE(view.currentVariant(), 0);
    QCOMPARE(int64_t(view.plot()->graphCount()), kBlocks);
    QCOMPARE(view.blockCombo()->count(), int(kBlocks) + 1); // "All blocks" and each block
    QVERIFY(!view.bestLine()->visible());
    for (int g = 0; g < view.plot()->graphCount(); ++g) {
        const rs::DistillationRecord& r = m_loaded.distillations[size_t(g)];
        QCOMPARE(values(view.plot()->graph(g)), r.evalLoss);
        const std::vector<double> steps(r.evalSteps.begin(), r.evalSteps.end());
        QCOMPARE(keys(view.plot()->graph(g)), steps);
    }
    QVERIFY(view.summaryLabel()->text().contains(QString::number(kBlocks)));
}

void TestDistillation::oneBlockShowsTrainingLossAndKeptStep() {
    DistillationView view;
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    const rs::DistillationRecord& r = m_loaded.distillations[2];
    QVERIFY(view.showBlock(r.block));
    QCOMPARE(view.blockCombo()->currentData().toLongLong(), qlonglong(r.block));
    QCOMPARE(view.plot()->graphCount(), 2);
    const QCPGraph* train = view.plot()->graph(0);
    QCOMPARE(values(train), r.trainLoss);
    QCOMPARE(keys(train).front(), 1.0);
    QCOMPARE(keys(train).back(), double(kSteps));
    QCOMPARE(values(view.plot()->graph(1)), r.evalLoss);
    QVERIFY(view.bestLine()->visible());
    QCOMPARE(view.bestLine()->point1->coords().x(), double(r.bestStep));
    const QString summary = view.summaryLabel()->text();
    QVERIFY2(summary.contains(QStringLiteral("step %1").arg(r.bestStep)), qPrintable(summary));
    // Back to every block through the combo box, as a user would.
    view.blockCombo()->setCurrentIndex(0);
    emit view.blockCombo()->activated(0);
    QCOMPARE(view.currentBlock(), DistillationView::kAllBlocks);
    QCOMPARE(int64_t(view.plot()->graphCount()), kBlocks);
}

void TestDistillation::unknownBlockIsRefused() {
    DistillationView view;
    QVERIFY(!view.showBlock(0)); // nothing loaded
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    QVERIFY(view.showBlock(1));
    QVERIFY(!view.showBlock(kBlocks + 3));
    QCOMPARE(view.currentBlock(), int64_t(1));
    QVERIFY(!view.showVariant(7));
    QCOMPARE(view.currentVariant(), 0);
    // Another experiment (or the same one opened again) starts from every block.
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    QCOMPARE(view.currentBlock(), DistillationView::kAllBlocks);
    QCOMPARE(int64_t(view.plot()->graphCount()), kBlocks);
}

void TestDistillation::logScaleKeepsThePoints() {
    DistillationView view;
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    view.showBlock(0);
    view.setLogScale(true);
    QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    // Every loss is positive (the cosine term alone is at least log(1 + e^-1)), so none is hidden.
    QCOMPARE(values(view.plot()->graph(0)), m_loaded.distillations[0].trainLoss);
    view.setLogScale(false);
    QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLinear);
}

void TestDistillation::experimentWithoutDistillationExplainsItself() {
    DistillationView view;
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    view.setRecords(m_lord.distillations, m_lord.variants);
    QCOMPARE(view.findChild<QStackedWidget*>()->currentIndex(), 0);
    const auto* label = view.findChild<QLabel*>(QStringLiteral("emptyState"));
    QVERIFY(label && label->text().contains(QStringLiteral("lillama")));
    QCOMPARE(view.plot()->graphCount(), 0);
    QVERIFY(!view.showBlock(0));
}

void TestDistillation::csvHoldsTheLosses() {
    DistillationView view;
    view.setRecords(m_loaded.distillations, m_loaded.variants);
    view.showBlock(4);
    const QStringList lines =
        rs::ui::PlotExport::toCsv(view.plot()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    // Header, then one row per step 0..kSteps (the union of both series' steps).
    QCOMPARE(lines.size(), 1 + kSteps + 1);
    QVERIFY(lines.front().contains(QStringLiteral("training loss")));
}

QTEST_MAIN(TestDistillation)
#include "tst_distillation.moc"
