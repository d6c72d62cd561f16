// The workbench flow over the real stories260K model: registry-driven method controls, the run
// panel, a recorded compression job run from the window, the rank budget, one layer selection
// for every view, the trade-offs and cancellation. The experiment history and the low-rank jobs
// are in tst_workbench_history.cpp.
#include "budget/weights.h"
#include "budgetview.h"
#include "curveview.h"
#include "experimentmodel.h"
#include "experimentsview.h"
#include "jobrunner.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "mainwindow.h"
#include "methodform.h"
#include "rankbarsplot.h"
#include "rankplanmodel.h"
#include "runpanel.h"
#include "runresults.h"
#include "spectrumheatmap.h"
#include "spectrumview.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "tradeoffview.h"
#include "workbench_fixture.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSortFilterProxyModel>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <atomic>
#include <memory>
#include <qcustomplot.h>

using rs::ui::ExperimentModel;
using rs::ui::JobRunner;
using rs::ui::MainWindow;
using rs::ui::MethodForm;
using rs::ui::RunPanel;

using rs::test::dataFile;
using rs::test::kCalibTokens;
using rs::test::kJobTimeoutMs;
using rs::test::kMaxStallMs;

namespace {

// A cancelled job must stop within this (issue: cancel takes effect within a second).
constexpr qint64 kCancelLatencyMs = 1000;

} // namespace

class TestWorkbench : public rs::test::WorkbenchFixture {
    Q_OBJECT

private slots:
    void initTestCase();
    void methodFormFollowsRegistry();
    void runPanelBuildsRequests();
    void runsAndRecordsCompression();
    void budgetFollowsTheSlider();
    void budgetPlansWithTheExperimentsCompensation();
    void editedRanksUpdateTotals();
    void budgetHeadlineComparesLikeWithLike();
    void fitsSmallScreensWithAnExperiment();
    void budgetChangesNeverDropEditsSilently();
    void runWaitsForAnotherJob();
    void everyViewFollowsOneLayerSelection();
    void tradeoffShowsEveryVariant();
    void cancelStopsWithinASecond();
    void budgetWeightsBySensitivity();
};

void TestWorkbench::initTestCase() {
    openWorkbench(QStringLiteral("tst_workbench"));
}

void TestWorkbench::methodFormFollowsRegistry() {
    for (const rs::MethodKind kind : {rs::MethodKind::Compression, rs::MethodKind::Compensation}) {
        MethodForm form(kind);
        const auto methods = rs::methodsOfKind(kind);
        QCOMPARE(form.methodBox()->count(), int(methods.size()));
        for (int i = 0; i < form.methodBox()->count(); ++i) {
            form.methodBox()->setCurrentIndex(i);
            const rs::MethodSpec& spec = *methods[size_t(i)];
            // One control per parameter, defaults shown: the config is the registry's default.
            for (const rs::ParamSpec& param : spec.params)
                QVERIFY2(form.parameterWidget(QString::fromStdString(param.key)),
                         (spec.id + "." + param.key).c_str());
            QCOMPARE(form.config().serialize(),
                     rs::MethodConfig::defaults(spec.id, kind).serialize());
        }
    }
    MethodForm form(rs::MethodKind::Compression);
    const auto gptq =
        rs::MethodConfig::parse("gptq:bits=3,group=32,act_order=true", rs::MethodKind::Compression);
    form.setConfig(gptq);
    QCOMPARE(form.config(), gptq);
    auto* bits = qobject_cast<QComboBox*>(form.parameterWidget(QStringLiteral("bits")));
    QVERIFY(bits);
    QCOMPARE(bits->currentText(), QStringLiteral("3"));
    bits->setCurrentIndex(bits->findText(QStringLiteral("2")));
    QCOMPARE(form.config().integer("bits"), int64_t(2));
    QVERIFY(!form.setSerialized(QStringLiteral("rtn:bits=5")));
    QCOMPARE(form.config().id(), std::string("gptq")); // unchanged by the bad text
}

void TestWorkbench::runPanelBuildsRequests() {
    RunPanel panel;
    QString problem;
    QVERIFY(!panel.request(&problem));
    QVERIFY(problem.contains(QStringLiteral("calibration text")));
    panel.setCalibText(QStringLiteral("/no/such/calib.txt"));
    QVERIFY(!panel.request(&problem));
    QVERIFY2(problem.contains(QStringLiteral("/no/such/calib.txt: no such file")),
             qPrintable(problem));
    panel.setCalibText(dataFile("text/tinystories/calib.txt"));
    for (const char* bad : {"", "4, x", "0", "-8"}) {
        panel.setRanks(QString::fromLatin1(bad));
        QVERIFY2(!panel.request(&problem), bad);
        QVERIFY(problem.contains(QStringLiteral("Ranks")));
    }
    QCOMPARE(rs::ui::parseRanks(QStringLiteral(" 4,8 ,16")), (std::vector<int64_t>{4, 8, 16}));
    panel.setRanks(QStringLiteral("4, 8"));
    const auto request = panel.request(&problem);
    QVERIFY2(request, qPrintable(problem));
    QCOMPARE(
        request->compression.serialize(),
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression).serialize());
    std::vector<std::string> comps;
    for (const auto& c : request->compensations)
        comps.push_back(c.id());
    QCOMPARE(comps, (std::vector<std::string>{"none", "svd", "eora"}));
    QCOMPARE(request->ranks, (std::vector<int64_t>{4, 8}));

    // The request survives a round trip through the controls.
    RunPanel other;
    other.setRequest(*request);
    const auto again = other.request();
    QVERIFY(again);
    QCOMPARE(again->compression, request->compression);
    QCOMPARE(again->compensations, request->compensations);
    QCOMPARE(again->ranks, request->ranks);
    QCOMPARE(again->inputs.calibText, request->inputs.calibText);
}

void TestWorkbench::runsAndRecordsCompression() {
    RunPanel* panel = m_window->runPanel();
    panel->setCalibText(dataFile("text/tinystories/calib.txt"));
    panel->setCalibTokens(kCalibTokens);
    panel->setRanks(QStringLiteral("4, 8"));
    panel->setEvalText({});
    QVERIFY(panel->runButton()->isEnabled());
    QSignalSpy opened(m_window.get(), &MainWindow::experimentOpened);
    qint64 stall = -1;
    const qint64 id = runAndWait(&stall);
    QVERIFY(id > 0);
    qInfo("longest GUI-thread stall during the job: %lld ms", stall);
    QVERIFY2(stall >= 0 && stall < kMaxStallMs, qPrintable(QString::number(stall)));
    QCOMPARE(opened.count(), 1);
    QCOMPARE(m_window->currentExperiment(), id);

    // Recorded: the history lists it as done with every layer, and the store has the variants.
    ExperimentModel* model = m_window->experimentsView()->model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(model->data(model->index(0, ExperimentModel::IdColumn), Qt::DisplayRole).toLongLong(),
             id);
    QCOMPARE(
        model->data(model->index(0, ExperimentModel::StatusColumn), Qt::DisplayRole).toString(),
        QStringLiteral("done"));
    QCOMPARE(
        model->data(model->index(0, ExperimentModel::LayersColumn), Qt::DisplayRole).toLongLong(),
        qint64(35));
    auto store = rs::ExperimentStore::open(m_window->databasePath(), {true});
    QCOMPARE(store->variants(id).size(), size_t(1 + 2 * 2)); // none, svd@4/8, eora@4/8
    QCOMPARE(m_window->curveView()->pair(), rs::ui::CurveView::Pair::Compensation);
    QVERIFY(!m_window->runPanel()->cancelButton()->isVisible());

    // The result where the user ran it, and above every view which experiment they show.
    rs::ui::RunResults* results = m_window->runPanel()->results();
    QVERIFY(!results->isHidden());
    QVERIFY(results->titleLabel()->text().startsWith(QStringLiteral("Experiment %1 ").arg(id)));
    QCOMPARE(results->table()->rowCount(), 1); // no evaluation text: said so
    QCOMPARE(m_window->experimentHeader()->text(), results->titleLabel()->text());

    // The layer table gains the shown variant's rank and error, and each weight's spectral
    // metrics.
    QTRY_VERIFY(m_window->layerModel()
                    ->headerData(rs::ui::LayerTableModel::ErrorAfter, Qt::Horizontal)
                    .toString()
                    .startsWith(QStringLiteral("Error after eora@")));
    rs::ui::LayerTableModel* layers = m_window->layerModel();
    for (int row = 0; row < layers->rowCount(); ++row) {
        QVERIFY(layers->data(layers->index(row, rs::ui::LayerTableModel::Rank)).toLongLong() > 0);
        const double error = layers
                                 ->data(layers->index(row, rs::ui::LayerTableModel::ErrorAfter),
                                        rs::ui::LayerTableModel::SortRole)
                                 .toDouble();
        QVERIFY(error > 0.0 && error < 1.0);
        QVERIFY(layers
                    ->data(layers->index(row, rs::ui::LayerTableModel::StableRank),
                           rs::ui::LayerTableModel::SortRole)
                    .toDouble() >= 1.0);
        QVERIFY(layers
                    ->data(layers->index(row, rs::ui::LayerTableModel::Alpha),
                           rs::ui::LayerTableModel::SortRole)
                    .toDouble() > 1.0);
    }

    // A restart reopens it.
    MainWindow restarted;
    restarted.setDatabasePath(m_window->databasePath());
    QVERIFY(restarted.reopenLastExperiment());
    QCOMPARE(restarted.currentExperiment(), id);
    QTRY_COMPARE(restarted.experimentHeader()->text(), results->titleLabel()->text());
}

void TestWorkbench::budgetFollowsTheSlider() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    QVERIFY(budget->hasPlan());
    rs::ui::RankPlanModel* model = budget->model();
    QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model->rowCount(), 35);
    // It opens at the cost of uniform rank 8: the uniform plan is exactly that.
    QCOMPARE(budget->uniformRank(), 8);
    QCOMPARE(budget->uniformPlan().parameters, int64_t(46240));
    QVERIFY(budget->optimalPlan().parameters <= budget->budget());
    // The optimum is never worse than uniform under its own objective.
    QVERIFY(budget->optimalPlan().objective <= budget->uniformPlan().objective);

    const std::vector<qint64> ranksBefore = model->planRanks();
    const double errorBefore = budget->relativeOutputError(budget->shownPlan());
    QSignalSpy changed(budget, &rs::ui::BudgetView::planChanged);
    QSlider* slider = budget->slider();
    for (int step = 0; step < 10; ++step) // a drag: several moves
        slider->setValue(slider->value() + 8);
    QCOMPARE(changed.count(), 10);
    QVERIFY(budget->budget() > 46240);
    QVERIFY(model->planRanks() != ranksBefore);
    QVERIFY(budget->uniformRank() >= 8);
    QVERIFY(budget->relativeOutputError(budget->shownPlan()) < errorBefore);
    qInfo("re-plan on a slider move: %.2f ms", budget->lastReplanMs());
    // The curve view follows the plan (its model-level total uses the plan's ranks).
    const auto total = m_window->curveView()->total();
    QCOMPARE(total.adapterParameters, int64_t(budget->shownPlan().parameters));

    // Other units show the same budget.
    const qint64 parameters = budget->budget();
    budget->setUnit(rs::ui::BudgetView::Unit::BitsPerWeight);
    QVERIFY(budget->budgetBox()->value() > 3.0 && budget->budgetBox()->value() < 16.0);
    QCOMPARE(budget->budget(), parameters);
    budget->setUnit(rs::ui::BudgetView::Unit::Parameters);
}

// The experiment ran EoRA and plain SVD: the plan uses EoRA's curves (what Apply runs), says so,
// and the user may switch to SVD's curves at the same budget and back.
void TestWorkbench::budgetPlansWithTheExperimentsCompensation() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    QVERIFY(budget->compensation().startsWith(QStringLiteral("eora")));
    QVERIFY(budget->summaryLabel()->text().contains(QStringLiteral("EoRA")));
    QComboBox* curves = budget->curveBox();
    QCOMPARE(curves->count(), 2);
    QVERIFY(curves->isEnabled());
    const qint64 parameters = budget->budget();
    const double eoraLeft = budget->errorLeft(budget->optimalPlan());

    const int svd = curves->findData(QStringLiteral("svd"), Qt::UserRole, Qt::MatchStartsWith);
    QVERIFY(svd >= 0);
    curves->setCurrentIndex(svd);
    QVERIFY(budget->compensation().startsWith(QStringLiteral("svd")));
    QCOMPARE(budget->budget(), parameters);
    // EoRA is the optimum at every rank: the SVD plan of the same budget leaves more error.
    QVERIFY(budget->errorLeft(budget->optimalPlan()) > eoraLeft);
    QVERIFY(budget->summaryLabel()->text().contains(QStringLiteral("SVD")));

    curves->setCurrentIndex(
        curves->findData(QStringLiteral("eora"), Qt::UserRole, Qt::MatchStartsWith));
    QVERIFY(budget->compensation().startsWith(QStringLiteral("eora")));
    QCOMPARE(budget->errorLeft(budget->optimalPlan()), eoraLeft);
}

void TestWorkbench::editedRanksUpdateTotals() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    rs::ui::RankPlanModel* model = budget->model();
    const int row = 6; // model.layers.0.mlp.down_proj, 64 x 172
    const qint64 before = model->planRanks()[row];
    const int64_t parameters = budget->shownPlan().parameters;
    const qint64 edited = before == 64 ? 32 : 64;
    QVERIFY(
        model->setData(model->index(row, rs::ui::RankPlanModel::PlanColumn), edited, Qt::EditRole));
    QCOMPARE(budget->shownPlan().ranks[size_t(row)], int64_t(edited));
    QCOMPARE(budget->shownPlan().parameters, parameters + (edited - before) * (64 + 172));
    QVERIFY(budget->summaryLabel()->text().contains(QStringLiteral("Edited plan")));
    QCOMPARE(budget->currentPlan().perLayer.at("model.layers.0.mlp.down_proj"), int64_t(edited));
    // A rank beyond the layer is refused.
    QVERIFY(
        !model->setData(model->index(row, rs::ui::RankPlanModel::PlanColumn), 65, Qt::EditRole));
}

// The headline puts both plans in the metric the plan minimises, so that the optimum never looks
// worse than uniform; the bars name their layers on the axis and on hover.
void TestWorkbench::budgetHeadlineComparesLikeWithLike() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    budget->findChild<QPushButton*>(QStringLiteral("resetEdits"))->click();
    for (const auto weighting : {rs::LayerWeighting::Energy, rs::LayerWeighting::Equal}) {
        budget->setWeighting(weighting);
        const double optimal = budget->objectiveValue(budget->optimalPlan());
        const double uniform = budget->objectiveValue(budget->uniformPlan());
        QVERIFY2(optimal <= uniform * (1.0 + 1e-12),
                 qPrintable(QStringLiteral("%1 > %2").arg(optimal).arg(uniform)));
        const QString text = budget->summaryLabel()->text();
        QVERIFY2(text.contains(budget->objectiveName()), qPrintable(text));
        QVERIFY(text.contains(QStringLiteral("against uniform")));
    }
    QCOMPARE(budget->objectiveName(), QStringLiteral("error left"));
    budget->setWeighting(rs::LayerWeighting::Energy);
    QCOMPARE(budget->objectiveName(), QStringLiteral("mean relative output error"));
    QCOMPARE(budget->objectiveValue(budget->optimalPlan()),
             budget->relativeOutputError(budget->optimalPlan()));

    m_window->views()->setCurrentWidget(budget);
    rs::ui::RankBarsPlot* bars = budget->plot();
    QTRY_VERIFY(bars->isVisible());
    bars->resize(1400, 300); // wide enough for a label per layer
    QTRY_COMPARE(bars->tickLabels().size(), 35);
    QCOMPARE(bars->tickLabels().value(0.0), QStringLiteral("L0 q_proj"));
    const QString tip = bars->describe(6.1);
    QVERIFY2(tip.startsWith(QStringLiteral("model.layers.0.mlp.down_proj\n")), qPrintable(tip));
    QVERIFY(tip.contains(QStringLiteral("plan rank %1").arg(budget->model()->planRanks()[6])));
    QVERIFY(bars->describe(6.5).isEmpty()); // between two bars
}

// With an experiment in every view (plans, tables, curves), the window still fits 1024 x 700.
void TestWorkbench::fitsSmallScreensWithAnExperiment() {
    const QSize small(1024, 700);
    for (int tab = 0; tab < m_window->views()->count(); ++tab) {
        m_window->views()->setCurrentIndex(tab);
        const QSize needed = m_window->minimumSizeHint();
        QVERIFY2(
            needed.width() <= small.width() && needed.height() <= small.height(),
            qPrintable(QStringLiteral("%1 needs %2 x %3 (view %4)")
                           .arg(m_window->views()->tabText(tab))
                           .arg(needed.width())
                           .arg(needed.height())
                           .arg(m_window->views()->currentWidget()->minimumSizeHint().width())));
    }
}

// Edits beyond the budget are said; a new budget asks before it replaces edits; a budget below
// the smallest plan is answered, not reverted.
void TestWorkbench::budgetChangesNeverDropEditsSilently() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    rs::ui::RankPlanModel* model = budget->model();
    budget->findChild<QPushButton*>(QStringLiteral("resetEdits"))->click();
    QVERIFY(!budget->hasEdits());
    const qint64 planned = budget->budget();
    const int row = 6; // model.layers.0.mlp.down_proj, 64 x 172
    const qint64 before = model->planRanks()[row];
    QVERIFY(before < 64);
    QVERIFY(model->setData(model->index(row, rs::ui::RankPlanModel::PlanColumn), 64, Qt::EditRole));
    const qint64 over = budget->shownPlan().parameters - planned;
    QVERIFY(over > 0);
    QVERIFY2(budget->messageLabel()->text().contains(
                 QStringLiteral(", %1 over the budget of %2.")
                     .arg(QLocale().toString(over), QLocale().toString(planned))),
             qPrintable(budget->messageLabel()->text()));

    // A new budget asks first; keeping the edits leaves budget, ranks and controls as they were.
    const auto askAndAnswer = [&](qint64 asked, QMessageBox::StandardButton answer) {
        budget->requestBudget(asked);
        QMessageBox* box = nullptr;
        QTRY_VERIFY((box = budget->findChild<QMessageBox*>(QStringLiteral("discardEditsBox"))));
        QVERIFY(box->isVisible());
        QCOMPARE(budget->budget(), planned); // nothing replaced while the question is open
        box->button(answer)->click();
        QTRY_VERIFY(!budget->findChild<QMessageBox*>(QStringLiteral("discardEditsBox")));
    };
    askAndAnswer(planned + 5000, QMessageBox::Cancel);
    QCOMPARE(budget->budget(), planned);
    QVERIFY(budget->hasEdits());
    QCOMPARE(model->planRanks()[row], qint64(64));
    QCOMPARE(budget->budgetBox()->value(), double(planned));
    askAndAnswer(planned + 5000, QMessageBox::Discard);
    QCOMPARE(budget->budget(), planned + 5000);
    QVERIFY(!budget->hasEdits());
    QVERIFY(budget->shownPlan().parameters <= budget->budget());

    // Below the smallest plan (fewer bits per weight than the compressed weights alone): planned
    // at the smallest, and said so.
    budget->setUnit(rs::ui::BudgetView::Unit::BitsPerWeight);
    budget->budgetBox()->setValue(1.0);
    QCOMPARE(budget->budget(), qint64(0)); // the smallest plan of any-rank alignment: no adapter
    QVERIFY(budget->budgetBox()->value() > 1.0);
    QVERIFY2(budget->messageLabel()->text().contains(QStringLiteral("below the smallest plan")),
             qPrintable(budget->messageLabel()->text()));
    budget->setUnit(rs::ui::BudgetView::Unit::Parameters);
    budget->setBudget(planned);
    QVERIFY(budget->messageLabel()->text().isEmpty());
}

// One job at a time: Run and Apply Plan wait while another job runs; a message about the
// inputs clears once the user changes them.
void TestWorkbench::runWaitsForAnotherJob() {
    RunPanel* panel = m_window->runPanel();
    QPushButton* apply = m_window->budgetView()->applyButton();
    QVERIFY(panel->runButton()->isEnabled());
    QVERIFY(apply->isEnabled());
    QCOMPARE(apply->text(), QStringLiteral("Apply Plan")); // runs at once: no dialog, no "…"
    std::atomic<bool> release{false};
    QSignalSpy finished(m_window->jobRunner(), &JobRunner::finished);
    QVERIFY(m_window->jobRunner()->start(
        QStringLiteral("another job"), [&release](const rs::JobContext&) -> JobRunner::Completion {
            while (!release)
                QThread::msleep(5);
            return [] {};
        }));
    QVERIFY(!panel->runButton()->isEnabled());
    QVERIFY(!panel->cancelButton()->isVisible()); // its Cancel is the main window's
    QVERIFY(!apply->isEnabled());
    release = true;
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kJobTimeoutMs);
    QVERIFY(panel->runButton()->isEnabled());
    QVERIFY(apply->isEnabled());

    panel->showMessage(QStringLiteral("example.txt: no such file"));
    const QString calib = dataFile("text/tinystories/calib.txt");
    panel->setCalibText(calib + QStringLiteral(" "));
    QVERIFY(panel->statusLabel()->text().isEmpty());
    panel->setCalibText(calib);
}

// A heatmap double-click on a layer the table's filter hides: the filter gives way, and the table,
// Spectra and Error Curves all show that layer.
void TestWorkbench::everyViewFollowsOneLayerSelection() {
    rs::ui::LayerView* table = m_window->layerView();
    rs::ui::SpectrumView* spectra = m_window->spectrumView();
    table->filterEdit()->setText(QStringLiteral("q_proj"));
    table->table()->selectRow(0);
    QVERIFY(table->proxy()->index(0, 0).data().toString().endsWith(QStringLiteral("q_proj")));
    int down = -1;
    for (size_t i = 0; i < spectra->layers().size(); ++i)
        if (spectra->layers()[i].name == "model.layers.1.mlp.down_proj")
            down = int(i);
    QVERIFY(down >= 0);
    auto* heatmap = spectra->findChild<rs::ui::SpectrumHeatmap*>();
    QVERIFY(heatmap);
    emit heatmap->layerActivated(down);
    QVERIFY(table->filterEdit()->text().isEmpty());
    const QModelIndexList rows = table->table()->selectionModel()->selectedRows();
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows[0].data().toString(), QStringLiteral("model.layers.1.mlp.down_proj"));
    QCOMPARE(spectra->selectedLayers(), QList<int>{down});
    QCOMPARE(m_window->curveView()->layers()[size_t(m_window->curveView()->currentLayer())].name,
             std::string("model.layers.1.mlp.down_proj"));
}

void TestWorkbench::tradeoffShowsEveryVariant() {
    rs::ui::TradeoffView* view = m_window->tradeoffView();
    view->setMetric(rs::ui::TradeoffView::Metric::PredictedError);
    view->refresh();
    // One finished experiment with none, svd@4/8, eora@4/8.
    QCOMPARE(view->plottedPoints(), 5);
    QVERIFY(view->frontPoints() >= 2);
    // EoRA at rank 8 dominates SVD at rank 8 (same size, lower error): never both on the front.
    const auto& points = view->points().points;
    for (const auto& p : points)
        if (p.label == "svd@8")
            QVERIFY(!p.front);
    // A click on a point opens its experiment.
    view->resize(900, 600);
    view->plot()->replot();
    const auto& p = points.front();
    const QPointF at(view->plot()->xAxis->coordToPixel(p.bitsPerWeight),
                     view->plot()->yAxis->coordToPixel(p.predictedError));
    QCOMPARE(view->experimentAt(at), qint64(p.experiment));
    // Hovering names the point; the axes hold every point.
    QVERIFY2(view->describeAt(at).startsWith(
                 QStringLiteral("Experiment %1 · %2 · %3\n")
                     .arg(p.experiment)
                     .arg(QString::fromStdString(p.compression), QString::fromStdString(p.label))),
             qPrintable(view->describeAt(at)));
    for (const auto& q : points) {
        QVERIFY(view->plot()->xAxis->range().contains(q.bitsPerWeight));
        QVERIFY(view->plot()->yAxis->range().contains(q.predictedError));
    }
    QSignalSpy open(view, &rs::ui::TradeoffView::openRequested);
    QTest::mouseClick(view->plot(), Qt::LeftButton, {}, at.toPoint());
    QCOMPARE(open.count(), 1);
    // Measured perplexity: the first run had no evaluation text.
    view->setMetric(rs::ui::TradeoffView::Metric::Perplexity);
    QCOMPARE(view->plottedPoints(), 0);
}

void TestWorkbench::cancelStopsWithinASecond() {
    RunPanel* panel = m_window->runPanel();
    panel->setCalibTokens(0); // the whole text: long enough to cancel in the middle
    panel->setEvalText(dataFile("text/tinystories/eval.txt"));
    QSignalSpy progress(m_window->jobRunner(), &JobRunner::progress);
    QSignalSpy cancelled(m_window->jobRunner(), &JobRunner::cancelled);
    QVERIFY(m_window->runCompression());
    QVERIFY(panel->cancelButton()->isVisible());
    // Cancel in the middle of the layer-by-layer stage (calibration and compression of each
    // decoder layer), the longest of a run.
    const auto calibrating = [&progress] {
        return !progress.isEmpty() &&
               progress.last().first().toString() == QStringLiteral("compress") &&
               progress.last().at(1).toLongLong() >= 1;
    };
    QTRY_VERIFY_WITH_TIMEOUT(calibrating(), kJobTimeoutMs);
    QElapsedTimer clock;
    clock.start();
    QTest::mouseClick(panel->cancelButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 5000);
    const qint64 latency = clock.elapsed();
    qInfo("cancel took effect after %lld ms (during stage '%s')", latency,
          qPrintable(progress.last().first().toString()));
    QVERIFY2(latency < kCancelLatencyMs, qPrintable(QString::number(latency)));
    QVERIFY(!m_window->jobRunner()->isRunning());
    QVERIFY(panel->runButton()->isEnabled());
    // The cancelled run is in the history as cancelled.
    ExperimentModel* model = m_window->experimentsView()->model();
    QTRY_COMPARE(model->rowCount(), 2);
    const int row = model->rowOf(model->experiments().front().experiment.id);
    QCOMPARE(
        model->data(model->index(row, ExperimentModel::StatusColumn), Qt::DisplayRole).toString(),
        QStringLiteral("cancelled"));
}

void TestWorkbench::budgetWeightsBySensitivity() {
    rs::ui::BudgetView* budget = m_window->budgetView();
    // Without an evaluation text there is nothing to measure: back to energy weights, with why.
    QVERIFY(budget->hasPlan());
    budget->setWeighting(rs::LayerWeighting::Sensitivity);
    QSignalSpy finished(m_window->jobRunner(), &JobRunner::finished);
    QSignalSpy failed(m_window->jobRunner(), &JobRunner::failed);
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kJobTimeoutMs);
    QVERIFY(!budget->hasSensitivities());
    QVERIFY(budget->findChild<QLabel*>(QStringLiteral("budgetMessage"))
                ->text()
                .contains(QStringLiteral("No measured sensitivities")));
    if (auto* box = m_window->findChild<QMessageBox*>(QStringLiteral("jobErrorBox")))
        box->close();

    // An experiment with an evaluation text: the sensitivities are measured once, then planned.
    RunPanel* panel = m_window->runPanel();
    panel->setCalibTokens(kCalibTokens);
    panel->setEvalText(dataFile("text/tinystories/eval.txt"));
    panel->setRanks(QStringLiteral("8"));
    QVERIFY(panel->compressionForm()->setSerialized(QStringLiteral("rtn:bits=3,group=32")));
    QVERIFY(runAndWait() > 0);
    const std::vector<qint64> energyRanks = budget->model()->planRanks();
    finished.clear();
    budget->setWeighting(rs::LayerWeighting::Sensitivity);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kJobTimeoutMs);
    QVERIFY(budget->hasSensitivities());
    QVERIFY(budget->hasPlan());
    QVERIFY(budget->model()->planRanks() != energyRanks);
    QVERIFY(budget->optimalPlan().parameters <= budget->budget());
}

QTEST_MAIN(TestWorkbench)
#include "tst_workbench.moc"
