// The workbench flow over the real stories260K model: registry-driven method controls, the run
// panel, a recorded compression job run from the window, cancellation, the experiment history
// (list, rename, delete) and the comparison of two experiments.
#include "budget/weights.h"
#include "budgetview.h"
#include "comparedialog.h"
#include "curveview.h"
#include "distillationview.h"
#include "experimentmodel.h"
#include "experimentsview.h"
#include "export/export_job.h"
#include "export/gptq_preview.h"
#include "exportdialog.h"
#include "jobrunner.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "lowrankoptions.h"
#include "mainwindow.h"
#include "methodform.h"
#include "pipeline/experiment_compare.h"
#include "rankbarsplot.h"
#include "rankplanmodel.h"
#include "runpanel.h"
#include "runresults.h"
#include "spectrumheatmap.h"
#include "spectrumview.h"
#include "stall_watchdog.h"
#include "store/distillations.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "tradeoffview.h"

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

namespace {

constexpr int kJobTimeoutMs = 180000;
// A cancelled job must stop within this (issue: cancel takes effect within a second).
constexpr qint64 kCancelLatencyMs = 1000;
// The GUI thread must never be blocked longer than this while a job runs.
constexpr qint64 kMaxStallMs = 100;
// Small calibration budget: the flow, not the statistics, is under test here.
constexpr int kCalibTokens = 2048;

QString dataFile(const std::string& relative) {
    return QString::fromStdString(rs::test::dataPath(relative).string());
}

} // namespace

class TestWorkbench : public QObject {
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
    void comparesExperiments();
    void exportsTheOpenExperiment();
    void budgetWeightsBySensitivity();
    void renamesAndDeletes();
    void lowRankPanelBuildsRequests();
    void runsLillamaFromThePanel();
    void analysesLayersOnDemand();

private:
    // Starts the run panel's request and waits for the job's end; returns the experiment id
    // (0 when it did not finish) and the longest GUI stall seen meanwhile.
    qint64 runAndWait(qint64* longestStallMs = nullptr);

    QTemporaryDir m_dir;
    std::unique_ptr<MainWindow> m_window;
};

void TestWorkbench::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("RankScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_workbench"));
    QSettings().clear();
    QVERIFY(m_dir.isValid());

    m_window = std::make_unique<MainWindow>();
    m_window->setDatabasePath(
        std::filesystem::path(m_dir.filePath(QStringLiteral("x.db")).toStdString()));
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    QVERIFY(!m_window->runPanel()->runButton()->isEnabled()); // no model yet
    QSignalSpy finished(m_window->jobRunner(), &JobRunner::finished);
    QVERIFY(m_window->openModel(QString::fromStdString(rs::test::stories260K().string())));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kJobTimeoutMs);
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

qint64 TestWorkbench::runAndWait(qint64* longestStallMs) {
    QSignalSpy done(m_window.get(), &MainWindow::compressionFinished);
    QSignalSpy failed(m_window->jobRunner(), &JobRunner::failed);
    rs::test::StallWatchdog watchdog;
    if (!m_window->runCompression())
        return 0;
    if (!QTest::qWaitFor([&] { return done.count() + failed.count() > 0; }, kJobTimeoutMs))
        return 0;
    if (longestStallMs)
        *longestStallMs = watchdog.longestMs();
    return done.count() == 1 ? done.first().first().toLongLong() : 0;
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

void TestWorkbench::comparesExperiments() {
    RunPanel* panel = m_window->runPanel();
    panel->setCalibTokens(kCalibTokens);
    panel->setEvalText({});
    panel->setRanks(QStringLiteral("4"));
    QVERIFY(panel->compressionForm()->setSerialized(QStringLiteral("rtn:bits=2,group=32")));
    const qint64 second = runAndWait();
    QVERIFY(second > 0);
    const qint64 first = m_window->experimentsView()->model()->experiments().back().experiment.id;

    auto store = rs::ExperimentStore::open(m_window->databasePath(), {true});
    rs::ui::CompareDialog dialog(rs::compareExperiments(*store, {first, second}));
    QTableWidget* settings = dialog.settingsTable();
    const auto rowOf = [](QTableWidget* table, const QString& key) {
        for (int r = 0; r < table->rowCount(); ++r)
            if (table->item(r, 0)->text().endsWith(key))
                return r;
        return -1;
    };
    const int compression = rowOf(settings, QStringLiteral("compression"));
    QVERIFY(settings->item(compression, 0)->text().startsWith(QStringLiteral("✱")));
    const int model = rowOf(settings, QStringLiteral("model"));
    QCOMPARE(settings->item(model, 1)->text(), settings->item(model, 2)->text());
    // Whether statistics were reused is a cost, apart from the settings.
    QCOMPARE(rowOf(settings, QStringLiteral("statistics")), -1);
    QVERIFY(rowOf(dialog.costsTable(), QStringLiteral("statistics")) >= 0);
    // "Only settings that differ" hides the model row, not the compression row.
    dialog.differencesOnlyBox()->setChecked(true);
    QVERIFY(settings->isRowHidden(model));
    QVERIFY(!settings->isRowHidden(compression));
    QVERIFY(settings->horizontalHeaderItem(1)->text().contains(QStringLiteral("baseline")));
    // Variants of both: none, svd@4, svd@8, eora@4, eora@8 (second has only rank 4); columns:
    // the variant, two perplexities, one change, two mean errors.
    QCOMPARE(dialog.metricsTable()->rowCount(), 5);
    QCOMPARE(dialog.metricsTable()->columnCount(), 6);
    QVERIFY(
        dialog.metricsTable()->horizontalHeaderItem(3)->text().contains(QString::number(second)));
    // Choosing the second as baseline moves the change column to the first experiment.
    dialog.baselineBox()->setCurrentIndex(1);
    QVERIFY(
        dialog.metricsTable()->horizontalHeaderItem(3)->text().contains(QString::number(first)));
    QVERIFY(settings->horizontalHeaderItem(2)->text().contains(QStringLiteral("baseline")));

    // Overlaid curves: both experiments' EoRA and SVD curves of one layer.
    dialog.setLayers({store->layers(first), store->layers(second)});
    QCOMPARE(dialog.layerBox()->count(), 35);
    dialog.layerBox()->setCurrentText(QStringLiteral("model.layers.2.mlp.down_proj"));
    QCOMPARE(dialog.curvePlot()->graphCount(), 4);
    for (int g = 0; g < 4; ++g)
        QCOMPARE(dialog.curvePlot()->graph(g)->dataCount(), 64 + 1); // min(64, 172) + 1

    // The view compares the ticked experiments, any number of them, oldest first; without
    // ticks, the selected ones.
    rs::ui::ExperimentsView* view = m_window->experimentsView();
    rs::ui::ExperimentModel* experiments = view->model();
    view->table()->clearSelection();
    view->selectExperiment(first);
    QVERIFY(!view->compareButton()->isEnabled());
    view->selectExperiment(second);
    QVERIFY(view->compareButton()->isEnabled());
    QCOMPARE(view->compareIds(), (QList<qint64>{first, second}));
    view->table()->clearSelection();
    QList<qint64> all;
    for (const rs::ExperimentSummary& s : experiments->experiments()) {
        const QModelIndex tick = experiments->index(experiments->rowOf(s.experiment.id),
                                                    rs::ui::ExperimentModel::IdColumn);
        QVERIFY(experiments->flags(tick) & Qt::ItemIsUserCheckable);
        QVERIFY(experiments->setData(tick, Qt::Checked, Qt::CheckStateRole));
        all.prepend(s.experiment.id); // listed newest first
    }
    QVERIFY(all.size() >= 3);
    QCOMPARE(view->compareIds(), all);
    QCOMPARE(view->compareButton()->text(), QStringLiteral("Compare (%1)").arg(all.size()));
    view->refresh(); // ticks survive a refresh
    QCOMPARE(view->compareIds(), all);
    QSignalSpy compare(view, &rs::ui::ExperimentsView::compareRequested);
    QTest::mouseClick(view->compareButton(), Qt::LeftButton);
    QCOMPARE(compare.count(), 1);
    QCOMPARE(compare.first().first().value<QList<qint64>>(), all);
    auto* shown = m_window->findChild<rs::ui::CompareDialog*>(QStringLiteral("compareDialog"));
    QVERIFY(shown);
    QCOMPARE(shown->metricsTable()->columnCount(), 3 * int(all.size()));
    QCOMPARE(shown->layerBox()->count(), 35);
    shown->close();
    for (const qint64 id : all)
        experiments->setTicked(id, false);
    QVERIFY(!view->compareButton()->isEnabled());
}

void TestWorkbench::exportsTheOpenExperiment() {
    const qint64 id = m_window->currentExperiment();
    QVERIFY(id > 0);
    auto store = rs::ExperimentStore::open(m_window->databasePath(), {true});
    rs::ui::ExportDialog::Choices choices;
    choices.variants = store->variants(id);
    choices.evaluations = store->evaluations(id);
    choices.linearCount = store->layers(id).size();
    choices.gptqDense = rs::gptqDenseLayers(
        store->layers(id),
        rs::MethodConfig::parse(store->experiment(id)->compression, rs::MethodKind::Compression));
    // stories260K's MLP (172 wide) is not a multiple of 32: GPTQ keeps it dense, with siblings.
    QCOMPARE(choices.gptqDense.size(), size_t(5 * 3));
    rs::ui::ExportDialog dialog(id, choices);
    // Merged by default (GPTQ would keep layers dense), and GPTQ warns when chosen.
    QCOMPARE(dialog.formatBox()->currentData().toString(), QStringLiteral("merged"));
    QVERIFY(dialog.warning().isEmpty());
    dialog.formatBox()->setCurrentIndex(dialog.formatBox()->findData(QStringLiteral("gptq+peft")));
    QVERIFY2(dialog.warning().startsWith(QStringLiteral("15 of 35 linears stay dense")),
             qPrintable(dialog.warning()));
    // Not evaluated: the input-aware variant (EoRA) is chosen.
    QVERIFY(choices.evaluations.empty());
    QVERIFY(dialog.variantBox()->currentData().toString().startsWith(QStringLiteral("eora@")));
    QVERIFY(!dialog.problem().isEmpty()); // no folder yet
    const QString out = m_dir.filePath(QStringLiteral("merged-export"));
    dialog.folderEdit()->setText(out);
    dialog.formatBox()->setCurrentIndex(dialog.formatBox()->findData(QStringLiteral("merged")));
    dialog.variantBox()->setCurrentIndex(dialog.variantBox()->findData(QStringLiteral("eora@4")));
    QVERIFY(dialog.problem().isEmpty());
    // GGUF takes float32 or float16, never bfloat16.
    auto* dtype = dialog.findChild<QComboBox*>(QStringLiteral("exportDtype"));
    QVERIFY(dtype);
    dialog.formatBox()->setCurrentIndex(dialog.formatBox()->findData(QStringLiteral("gguf")));
    QVERIFY(dtype->isEnabled());
    dtype->setCurrentIndex(dtype->findData(QStringLiteral("bfloat16")));
    QVERIFY(dialog.problem().contains(QLatin1String("bfloat16")));
    dtype->setCurrentIndex(dtype->findData(QStringLiteral("float16")));
    QVERIFY(dialog.problem().isEmpty());
    QCOMPARE(dialog.request().format, rs::ExportFormat::Gguf);
    QCOMPARE(dialog.request().dtype, std::string("float16"));
    dtype->setCurrentIndex(0);
    dialog.formatBox()->setCurrentIndex(dialog.formatBox()->findData(QStringLiteral("merged")));
    const rs::ExportRequest request = dialog.request();
    QCOMPARE(request.format, rs::ExportFormat::Merged);
    QCOMPARE(request.variant, std::string("eora@4"));

    QSignalSpy finished(m_window->jobRunner(), &JobRunner::finished);
    QSignalSpy failed(m_window->jobRunner(), &JobRunner::failed);
    QVERIFY(m_window->runExport(request));
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() + failed.count() > 0, kJobTimeoutMs);
    QVERIFY2(failed.isEmpty(),
             failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/config.json")));
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/README.md")));
    QCOMPARE(store->exports(id).size(), size_t(1));
    // The same folder again is refused, and what is there stays.
    failed.clear();
    QVERIFY(m_window->runExport(request));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kJobTimeoutMs);
    QVERIFY(QFileInfo::exists(out + QStringLiteral("/config.json")));
    auto* box = m_window->findChild<QMessageBox*>(QStringLiteral("jobErrorBox"));
    QVERIFY(box);
    box->close();
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

void TestWorkbench::renamesAndDeletes() {
    rs::ui::ExperimentsView* view = m_window->experimentsView();
    ExperimentModel* model = view->model();
    const int before = model->rowCount();
    const qint64 id = model->experiments().front().experiment.id;
    QVERIFY(view->renameExperiment(id, QStringLiteral("two-bit baseline"), QStringLiteral("n")));
    QCOMPARE(
        model->data(model->index(model->rowOf(id), ExperimentModel::NameColumn), Qt::DisplayRole)
            .toString(),
        QStringLiteral("two-bit baseline"));
    view->filterEdit()->setText(QStringLiteral("two-bit"));
    QCOMPARE(view->proxy()->rowCount(), 1);
    view->filterEdit()->clear();
    QVERIFY(view->deleteExperiment(id));
    QCOMPARE(model->rowCount(), before - 1);
    QCOMPARE(model->rowOf(id), -1);
    QVERIFY(!view->deleteExperiment(id)); // already gone: an error, shown in the view
    QVERIFY(view->messageLabel()->text().contains(QString::number(id)));
}

void TestWorkbench::lowRankPanelBuildsRequests() {
    RunPanel panel;
    panel.setModelLoaded(true);
    panel.setCalibText(dataFile("text/tinystories/calib.txt"));
    panel.setJob(RunPanel::Job::LowRank);
    rs::ui::LowRankOptions* options = panel.lowRankOptions();
    QString problem;
    for (const char* bad : {"", "20, x", "0", "100", "-5"}) {
        options->setReductions(QString::fromLatin1(bad));
        QVERIFY2(!panel.lowRankRequest(&problem), bad);
        QVERIFY(problem.contains(QStringLiteral("Reductions")));
        QVERIFY(!panel.runButton()->isEnabled());
    }
    options->setReductions(QStringLiteral("20, 40"));
    QVERIFY(panel.runButton()->isEnabled());
    QVERIFY(options->methodForm()->setSerialized(QStringLiteral("lillama:steps=7")));
    auto request = panel.lowRankRequest(&problem);
    QVERIFY2(request, qPrintable(problem));
    QCOMPARE(request->method.id(), std::string("lillama"));
    QCOMPARE(request->method.integer("steps"), int64_t(7));
    QCOMPARE(request->reductions, (std::vector<double>{20.0, 40.0}));
    QCOMPARE(request->uniformRank, int64_t(0));
    options->setSizes(rs::ui::LowRankOptions::Sizes::UniformRank);
    options->setRank(12);
    request = panel.lowRankRequest(&problem);
    QVERIFY(request);
    QCOMPARE(request->uniformRank, int64_t(12));
    // A stored low-rank request comes back into the controls.
    RunPanel other;
    other.setJob(RunPanel::Job::LowRank);
    other.setCalibText(dataFile("text/tinystories/calib.txt"));
    other.lowRankOptions()->set(*request);
    const auto again = other.lowRankRequest();
    QVERIFY(again);
    QCOMPARE(again->method, request->method);
    QCOMPARE(again->uniformRank, request->uniformRank);
}

void TestWorkbench::runsLillamaFromThePanel() {
    RunPanel* panel = m_window->runPanel();
    panel->setCalibText(dataFile("text/tinystories/calib.txt"));
    panel->setCalibTokens(kCalibTokens);
    panel->setEvalText({});
    panel->setJob(RunPanel::Job::LowRank);
    QVERIFY(panel->lowRankOptions()->methodForm()->setSerialized(
        QStringLiteral("lillama:steps=3,batch=2")));
    panel->lowRankOptions()->setSizes(rs::ui::LowRankOptions::Sizes::UniformRank);
    panel->lowRankOptions()->setRank(8);
    const qint64 id = runAndWait();
    QVERIFY(id > 0);
    auto store = rs::ExperimentStore::open(m_window->databasePath(), {true});
    QCOMPARE(rs::distillations(*store, id).size(), size_t(5)); // every block of stories260K
    // The window shows the new experiment's losses.
    rs::ui::DistillationView* view = m_window->distillationView();
    QCOMPARE(m_window->views()->currentWidget(), static_cast<QWidget*>(view));
    QCOMPARE(view->records().size(), size_t(5));
    QCOMPARE(view->plot()->graphCount(), 5);
    // Its curves are the weight SVD's and the data-aware optimum's, and are named so.
    QCOMPARE(m_window->curveView()->pair(), rs::ui::CurveView::Pair::LowRank);
    // Its long method settings in the run results never force the window wider than 1024.
    QTRY_VERIFY2(m_window->minimumSizeHint().width() <= 1024,
                 qPrintable(QString::number(m_window->minimumSizeHint().width())));

    // "Use Settings" puts each kind of experiment back into the run panel.
    panel->setJob(RunPanel::Job::Compression);
    panel->lowRankOptions()->methodForm()->setSerialized(QStringLiteral("lord-weight"));
    rs::ui::ExperimentsView* experiments = m_window->experimentsView();
    experiments->selectExperiment(id);
    QVERIFY(experiments->reuseButton()->isEnabled());
    QTest::mouseClick(experiments->reuseButton(), Qt::LeftButton);
    QCOMPARE(panel->job(), RunPanel::Job::LowRank);
    const auto again = panel->lowRankRequest();
    QVERIFY(again);
    QCOMPARE(
        again->method.serialize(),
        rs::MethodConfig::parse("lillama:steps=3,batch=2", rs::MethodKind::LowRank).serialize());
    QCOMPARE(again->uniformRank, int64_t(8));
    QCOMPARE(again->inputs.calibTokens, int64_t(kCalibTokens));
    const std::string rtn3 =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression).serialize();
    qint64 compression = 0;
    for (const rs::ExperimentSummary& e : store->listExperiments())
        if (e.experiment.compression == rtn3)
            compression = e.experiment.id;
    QVERIFY(compression > 0);
    QVERIFY(m_window->reuseExperimentSettings(compression));
    QCOMPARE(panel->job(), RunPanel::Job::Compression);
    const auto request = panel->request();
    QVERIFY(request);
    QCOMPARE(request->compression.serialize(), rtn3);
    QVERIFY(!m_window->reuseExperimentSettings(987654));
    QVERIFY(m_window->statusText().contains(QStringLiteral("987654")));
}

void TestWorkbench::analysesLayersOnDemand() {
    // A run without analysis shows the views' empty page with a link that analyses the
    // selected layers from the run's cached statistics.
    RunPanel* panel = m_window->runPanel();
    panel->setJob(RunPanel::Job::Compression);
    panel->setCalibText(dataFile("text/tinystories/calib.txt"));
    panel->setCalibTokens(kCalibTokens);
    panel->setEvalText({});
    panel->analyzeBox()->setChecked(false);
    const qint64 id = runAndWait();
    panel->analyzeBox()->setChecked(true);
    QVERIFY(id > 0);
    rs::ui::SpectrumView* spectra = m_window->spectrumView();
    auto* empty = spectra->findChild<QLabel*>(QStringLiteral("emptyState"));
    QVERIFY(empty);
    auto* page = qobject_cast<QStackedWidget*>(empty->parentWidget());
    QVERIFY(page && page->currentIndex() == 0);
    QVERIFY(empty->text().contains(QStringLiteral("Analyse the selected layers")));

    const QString layer = QStringLiteral("model.layers.3.mlp.down_proj");
    m_window->selectLayers({layer});
    QSignalSpy finished(m_window->jobRunner(), &JobRunner::finished);
    QSignalSpy opened(m_window.get(), &MainWindow::experimentOpened);
    emit empty->linkActivated(QStringLiteral("action")); // what a click on the link does
    QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1 && opened.count() == 1, kJobTimeoutMs);
    auto store = rs::ExperimentStore::open(m_window->databasePath(), {true});
    for (const rs::LayerRecord& l : store->layers(id))
        QCOMPARE(l.curveEora.empty(), l.name != layer.toStdString());
    QCOMPARE(page->currentIndex(), 1); // the analysed layer is plotted
}

QTEST_MAIN(TestWorkbench)
#include "tst_workbench.moc"
