// The workbench's experiment history over the real stories260K model: comparing any number of
// experiments, exporting the open one, renaming and deleting, the low-rank (Lillama) job from the
// run panel, and analysing the layers of a run made without analysis.
#include "comparedialog.h"
#include "curveview.h"
#include "distillationview.h"
#include "experimentmodel.h"
#include "experimentsview.h"
#include "export/export_job.h"
#include "export/gptq_preview.h"
#include "exportdialog.h"
#include "lowrankoptions.h"
#include "methodform.h"
#include "pipeline/experiment_compare.h"
#include "spectrumview.h"
#include "store/distillations.h"
#include "store/experiment_store.h"
#include "workbench_fixture.h"

#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStackedWidget>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <qcustomplot.h>

using rs::test::dataFile;
using rs::test::kCalibTokens;
using rs::test::kJobTimeoutMs;
using rs::ui::ExperimentModel;
using rs::ui::JobRunner;
using rs::ui::MainWindow;
using rs::ui::RunPanel;

class TestWorkbenchHistory : public rs::test::WorkbenchFixture {
    Q_OBJECT

private slots:
    void initTestCase();
    void comparesExperiments();
    void exportsTheOpenExperiment();
    void renamesAndDeletes();
    void lowRankPanelBuildsRequests();
    void runsLillamaFromThePanel();
    void analysesLayersOnDemand();
};

void TestWorkbenchHistory::initTestCase() {
    openWorkbench(QStringLiteral("tst_workbench_history"));
    if (QTest::currentTestFailed())
        return;
    // Two recorded runs to compare with: EoRA, SVD and none at ranks 4 and 8, then at 8 alone.
    RunPanel* panel = m_window->runPanel();
    panel->setCalibText(dataFile("text/tinystories/calib.txt"));
    panel->setCalibTokens(kCalibTokens);
    panel->setEvalText({});
    for (const char* ranks : {"4, 8", "8"}) {
        panel->setRanks(QString::fromLatin1(ranks));
        QVERIFY(runAndWait() > 0);
    }
}

void TestWorkbenchHistory::comparesExperiments() {
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

void TestWorkbenchHistory::exportsTheOpenExperiment() {
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

void TestWorkbenchHistory::renamesAndDeletes() {
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

void TestWorkbenchHistory::lowRankPanelBuildsRequests() {
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

void TestWorkbenchHistory::runsLillamaFromThePanel() {
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

void TestWorkbenchHistory::analysesLayersOnDemand() {
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

QTEST_MAIN(TestWorkbenchHistory)
#include "tst_workbench_history.moc"
