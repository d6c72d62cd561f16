// The main window over the real stories260K model, and the job runner that loads it.
#include "jobrunner.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "mainwindow.h"
#include "model/summary.h"
#include "recentmodels.h"
#include "runpanel.h"
#include "summarypanel.h"
#include "testdata.h"
#include "util/error.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>

using rs::ui::JobRunner;
using rs::ui::LayerTableModel;
using rs::ui::MainWindow;

namespace {

constexpr int kLoadTimeoutMs = 60000;
constexpr int kStories260KLinears = 35; // 5 blocks x 7 linears

QString storiesPath() {
    return QString::fromStdString(rs::test::stories260K().string());
}

QString cell(const QAbstractItemModel* model, int row, int column) {
    return model->index(row, column).data().toString();
}

// Opens a model through the window and waits for the outcome; true when it loaded.
bool load(MainWindow& window, const QString& path) {
    QSignalSpy finished(window.jobRunner(), &JobRunner::finished);
    QSignalSpy failed(window.jobRunner(), &JobRunner::failed);
    if (!window.openModel(path))
        return false;
    if (!QTest::qWaitFor([&] { return finished.count() + failed.count() > 0; }, kLoadTimeoutMs))
        return false;
    return finished.count() == 1;
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void opensStories260K();
    void layerModelPassesTester();
    void summaryNamesUnusedTensors();
    void sortsByInputFeatures();
    void filterMatchesNames();
    void corruptModelFailsAndKeepsPrevious();
    void recentModelsArePrunedAndCapped();
    void modelPathForDrops();
    void dropOpensModel();
    void runnerReportsExceptionsAsFailed();
    void runnerCancels();
    void runnerThrottlesProgress();
    void fitsSmallScreens();
    void cleanupTestCase();

private:
    std::unique_ptr<MainWindow> m_window;
};

void TestMainWindow::initTestCase() {
    // Never read or write the user's settings.
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("RankScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_mainwindow"));
    QSettings().clear();

    m_window = std::make_unique<MainWindow>();
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void TestMainWindow::opensStories260K() {
    MainWindow& w = *m_window;
    QSignalSpy started(w.jobRunner(), &JobRunner::started);
    QSignalSpy finished(w.jobRunner(), &JobRunner::finished);
    QSignalSpy opened(&w, &MainWindow::modelOpened);
    QVERIFY(w.openModel(storiesPath()));
    QCOMPARE(started.count(), 1);
    QVERIFY(w.jobRunner()->isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLoadTimeoutMs);
    QCOMPARE(opened.count(), 1);
    QVERIFY(w.hasModel());
    QVERIFY(!w.jobRunner()->isRunning());

    const LayerTableModel* layers = w.layerModel();
    QCOMPARE(layers->rowCount(), kStories260KLinears);
    QCOMPARE(layers->columnCount(), int(LayerTableModel::ColumnCount));
    const int q = layers->rowOf(QStringLiteral("model.layers.0.self_attn.q_proj"));
    QVERIFY(q >= 0);
    QCOMPARE(cell(layers, q, LayerTableModel::OutFeatures), QStringLiteral("64"));
    QCOMPARE(cell(layers, q, LayerTableModel::InFeatures), QStringLiteral("64"));
    QCOMPARE(cell(layers, q, LayerTableModel::Block), QStringLiteral("0"));
    QCOMPARE(cell(layers, q, LayerTableModel::Kind), QStringLiteral("q_proj"));
    QCOMPARE(cell(layers, q, LayerTableModel::Parameters), QStringLiteral("4,096"));
    QCOMPARE(cell(layers, q, LayerTableModel::Bias), QStringLiteral("no"));
    const int down = layers->rowOf(QStringLiteral("model.layers.0.mlp.down_proj"));
    QVERIFY(down >= 0);
    QCOMPARE(cell(layers, down, LayerTableModel::OutFeatures), QStringLiteral("64"));
    QCOMPARE(cell(layers, down, LayerTableModel::InFeatures), QStringLiteral("172"));
    // The table shows the same rows through its proxy.
    QCOMPARE(w.layerView()->table()->model()->rowCount(), kStories260KLinears);

    const rs::ui::SummaryPanel* summary = w.summaryPanel();
    QVERIFY2(summary->fieldText(QStringLiteral("parameters")).contains(QStringLiteral("260,032")),
             qPrintable(summary->fieldText(QStringLiteral("parameters"))));
    QCOMPARE(summary->fieldText(QStringLiteral("layers")), QStringLiteral("5"));
    QCOMPARE(summary->fieldText(QStringLiteral("heads")), QStringLiteral("8 / 4"));
    QCOMPARE(summary->fieldText(QStringLiteral("headDim")), QStringLiteral("8"));
    QCOMPARE(summary->fieldText(QStringLiteral("dimensions")), QStringLiteral("64 / 172"));
    QVERIFY(!summary->fieldText(QStringLiteral("tokenizer")).isEmpty());
    QVERIFY(w.windowTitle().contains(QStringLiteral("stories260K")));
    QVERIFY(w.statusText().contains(QStringLiteral("done")));
}

// Tensors the config does not use are named under the summary, never counted; a clean model shows
// no warning.
void TestMainWindow::summaryNamesUnusedTensors() {
    rs::ui::SummaryPanel panel;
    rs::ModelSummary summary;
    for (int i = 0; i < 7; ++i)
        summary.unusedTensors.push_back("model.layers." + std::to_string(5 + i) + ".mlp.weight");
    panel.showSummary(QStringLiteral("/models/extra"), summary, {});
    const QString warning = panel.fieldText(QStringLiteral("warning"));
    QVERIFY2(warning.contains(QStringLiteral("7 tensor(s) in the files are not used")),
             qPrintable(warning));
    QVERIFY(warning.contains(QStringLiteral("model.layers.5.mlp.weight")));
    QVERIFY(warning.contains(QStringLiteral("and 2 more")));
    QVERIFY(!panel.findChild<QLabel*>(QStringLiteral("summary_warning"))->isHidden());
    summary.unusedTensors.clear();
    panel.showSummary(QStringLiteral("/models/clean"), summary, {});
    QVERIFY(panel.findChild<QLabel*>(QStringLiteral("summary_warning"))->isHidden());
}

void TestMainWindow::layerModelPassesTester() {
    // A fresh window, so that the tester also watches the reset that loading causes.
    MainWindow w;
    QAbstractItemModelTester sourceTester(w.layerModel(),
                                          QAbstractItemModelTester::FailureReportingMode::QtTest);
    QAbstractItemModelTester proxyTester(w.layerView()->proxy(),
                                         QAbstractItemModelTester::FailureReportingMode::QtTest);
    QVERIFY(load(w, storiesPath()));
    QCOMPARE(w.layerModel()->rowCount(), kStories260KLinears);
    w.layerView()->proxy()->sort(LayerTableModel::Parameters, Qt::DescendingOrder);
    w.layerView()->filterEdit()->setText(QStringLiteral("mlp"));
    w.layerModel()->clear();
    QCOMPARE(w.layerView()->proxy()->rowCount(), 0);
}

void TestMainWindow::sortsByInputFeatures() {
    QSortFilterProxyModel* proxy = m_window->layerView()->proxy();
    QTableView* table = m_window->layerView()->table();
    table->sortByColumn(LayerTableModel::InFeatures, Qt::AscendingOrder);
    QCOMPARE(proxy->rowCount(), kStories260KLinears);
    qint64 previous = 0;
    for (int row = 0; row < proxy->rowCount(); ++row) {
        const qint64 dIn = proxy->index(row, LayerTableModel::InFeatures)
                               .data(LayerTableModel::SortRole)
                               .toLongLong();
        QVERIFY(dIn >= previous);
        previous = dIn;
    }
    QCOMPARE(cell(proxy, 0, LayerTableModel::InFeatures), QStringLiteral("64"));
    QCOMPARE(cell(proxy, proxy->rowCount() - 1, LayerTableModel::InFeatures),
             QStringLiteral("172"));
    QCOMPARE(cell(proxy, proxy->rowCount() - 1, LayerTableModel::Kind),
             QStringLiteral("down_proj"));

    table->sortByColumn(LayerTableModel::InFeatures, Qt::DescendingOrder);
    for (int row = 0; row < 5; ++row) // the five down_proj layers come first
        QCOMPARE(cell(proxy, row, LayerTableModel::Kind), QStringLiteral("down_proj"));

    // Names sort numerically by block.
    table->sortByColumn(LayerTableModel::Name, Qt::AscendingOrder);
    QVERIFY(cell(proxy, 0, LayerTableModel::Name).startsWith(QStringLiteral("model.layers.0.")));
    QVERIFY(cell(proxy, kStories260KLinears - 1, LayerTableModel::Name)
                .startsWith(QStringLiteral("model.layers.4.")));
}

void TestMainWindow::filterMatchesNames() {
    rs::ui::LayerView* view = m_window->layerView();
    view->filterEdit()->setText(QStringLiteral("Q_PROJ"));
    QCOMPARE(view->proxy()->rowCount(), 5);
    view->filterEdit()->setText(QStringLiteral("layers.3."));
    QCOMPARE(view->proxy()->rowCount(), 7);
    view->filterEdit()->clear();
    QCOMPARE(view->proxy()->rowCount(), kStories260KLinears);
}

void TestMainWindow::corruptModelFailsAndKeepsPrevious() {
    MainWindow& w = *m_window;
    QVERIFY(w.hasModel());
    const QString previousPath = w.modelPath();

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QDir source(storiesPath());
    QVERIFY(QFile::copy(source.filePath(QStringLiteral("config.json")),
                        dir.filePath(QStringLiteral("config.json"))));
    QFile original(source.filePath(QStringLiteral("model.safetensors")));
    QVERIFY(original.open(QIODevice::ReadOnly));
    const QByteArray bytes = original.readAll();
    QFile truncated(dir.filePath(QStringLiteral("model.safetensors")));
    QVERIFY(truncated.open(QIODevice::WriteOnly));
    QVERIFY(truncated.write(bytes.left(bytes.size() / 2)) > 0);
    truncated.close();

    QSignalSpy failed(w.jobRunner(), &JobRunner::failed);
    QSignalSpy finished(w.jobRunner(), &JobRunner::finished);
    QVERIFY(w.openModel(dir.path()));
    QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, kLoadTimeoutMs);
    QCOMPARE(finished.count(), 0);
    const QString message = failed.first().first().toString();
    QVERIFY2(message.contains(QStringLiteral("model.safetensors")), qPrintable(message));

    // The error is shown without blocking, and the previous model is still there.
    QMessageBox* box = nullptr;
    QTRY_VERIFY((box = w.findChild<QMessageBox*>(QStringLiteral("jobErrorBox"))) != nullptr);
    QVERIFY(box->informativeText().contains(QStringLiteral("model.safetensors")));
    box->close();
    QCOMPARE(w.modelPath(), previousPath);
    QCOMPARE(w.layerModel()->rowCount(), kStories260KLinears);
    QVERIFY(w.summaryPanel()
                ->fieldText(QStringLiteral("parameters"))
                .contains(QStringLiteral("260,032")));
    QVERIFY(w.windowTitle().contains(QStringLiteral("stories260K")));
    QVERIFY(!w.jobRunner()->isRunning());
    QVERIFY(!rs::ui::RecentModels::paths().contains(QDir::cleanPath(dir.path())));
}

void TestMainWindow::recentModelsArePrunedAndCapped() {
    using rs::ui::RecentModels;
    QVERIFY(RecentModels::paths().contains(QDir::cleanPath(storiesPath())));

    QTemporaryDir root;
    QVERIFY(root.isValid());
    RecentModels::clear();
    for (int i = 0; i < RecentModels::kMaximum + 3; ++i) {
        const QString path = root.filePath(QStringLiteral("m%1").arg(i));
        QVERIFY(QDir().mkpath(path));
        RecentModels::add(path);
    }
    QStringList paths = RecentModels::paths();
    QCOMPARE(paths.size(), RecentModels::kMaximum);
    QVERIFY(paths.first().endsWith(QStringLiteral("/m10"))); // newest first
    RecentModels::add(paths.last());                         // re-adding moves it to the top
    QCOMPARE(RecentModels::paths().first(), paths.last());
    QCOMPARE(RecentModels::paths().size(), RecentModels::kMaximum);

    QVERIFY(QDir(root.filePath(QStringLiteral("m10"))).removeRecursively());
    paths = RecentModels::paths();
    QCOMPARE(paths.size(), RecentModels::kMaximum - 1);
    QVERIFY(!paths.contains(root.filePath(QStringLiteral("m10"))));
    RecentModels::clear();
    QVERIFY(RecentModels::paths().isEmpty());
}

void TestMainWindow::modelPathForDrops() {
    const QString dir = QDir::cleanPath(storiesPath());
    QCOMPARE(MainWindow::modelPathFor(dir), dir);
    QCOMPARE(MainWindow::modelPathFor(dir + QStringLiteral("/config.json")), dir);
    QCOMPARE(MainWindow::modelPathFor(dir + QStringLiteral("/model.safetensors")), dir);
    QCOMPARE(MainWindow::modelPathFor(dir + QStringLiteral("/tokenizer.bin")),
             dir + QStringLiteral("/tokenizer.bin"));
    QVERIFY(MainWindow::modelPathFor(dir + QStringLiteral("/missing")).isEmpty());
}

void TestMainWindow::dropOpensModel() {
    MainWindow w;
    QMimeData data;
    data.setUrls({QUrl::fromLocalFile(storiesPath() + QStringLiteral("/config.json"))});
    const QPoint centre = w.rect().center();
    QDragEnterEvent enter(centre, Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &enter);
    QVERIFY(enter.isAccepted());

    QSignalSpy opened(&w, &MainWindow::modelOpened);
    QDropEvent drop(QPointF(centre), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
    QApplication::sendEvent(&w, &drop);
    QVERIFY(drop.isAccepted());
    QTRY_COMPARE_WITH_TIMEOUT(opened.count(), 1, kLoadTimeoutMs);
    QCOMPARE(w.modelPath(), QDir::cleanPath(storiesPath()));

    QMimeData text;
    text.setText(QStringLiteral("not a model"));
    QDragEnterEvent refused(centre, Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
    refused.ignore();
    QApplication::sendEvent(&w, &refused);
    QVERIFY(!refused.isAccepted());
}

void TestMainWindow::runnerReportsExceptionsAsFailed() {
    JobRunner runner;
    QSignalSpy failed(&runner, &JobRunner::failed);
    QSignalSpy finished(&runner, &JobRunner::finished);
    QVERIFY(runner.start(QStringLiteral("rs"), [](const rs::JobContext&) -> JobRunner::Completion {
        rs::fail("weights.bin", "broken");
    }));
    QVERIFY(!runner.start(QStringLiteral("second"),
                          [](const rs::JobContext&) { return JobRunner::Completion(); }));
    QTRY_COMPARE(failed.count(), 1);
    QCOMPARE(failed.first().first().toString(), QStringLiteral("weights.bin: broken"));

    QVERIFY(runner.start(QStringLiteral("std"), [](const rs::JobContext&) -> JobRunner::Completion {
        throw std::logic_error("plain");
    }));
    QTRY_COMPARE(failed.count(), 2);
    QCOMPARE(failed.last().first().toString(), QStringLiteral("plain"));

    int applied = 0;
    QVERIFY(runner.run(
        QStringLiteral("typed"), [](const rs::JobContext&) { return 42; },
        [&applied](int value) { applied = value; }));
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(applied, 42);
}

void TestMainWindow::runnerCancels() {
    JobRunner runner;
    QSignalSpy cancelled(&runner, &JobRunner::cancelled);
    QSignalSpy finished(&runner, &JobRunner::finished);
    std::atomic<bool> entered = false;
    bool applied = false;
    QVERIFY(runner.run(
        QStringLiteral("spin"),
        [&entered](const rs::JobContext& job) {
            entered = true;
            for (;;) {
                job.cancel.throwIfCancelled();
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
            return 0;
        },
        [&applied](int) { applied = true; }));
    QTRY_VERIFY(entered.load());
    runner.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 1, 2000);
    QCOMPARE(finished.count(), 0);
    QVERIFY(!applied);
    QVERIFY(!runner.isRunning());
}

void TestMainWindow::runnerThrottlesProgress() {
    JobRunner runner;
    runner.setProgressInterval(std::chrono::milliseconds(100));
    QSignalSpy progress(&runner, &JobRunner::progress);
    QSignalSpy finished(&runner, &JobRunner::finished);
    constexpr int kEvents = 2000;
    QVERIFY(runner.start(QStringLiteral("burst"), [](const rs::JobContext& job) {
        for (int i = 1; i <= kEvents; ++i) {
            job.report("a", i, kEvents, "x");
            if (i % 100 == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        job.report("b", 0, 1);
        job.report("b", 1, 1);
        return JobRunner::Completion();
    }));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
    // A few events, but never the stage starts or ends.
    QVERIFY2(progress.count() < 20, qPrintable(QString::number(progress.count())));
    QCOMPARE(progress.first().at(0).toString(), QStringLiteral("a"));
    QCOMPARE(progress.first().at(1).toLongLong(), 1);
    bool sawEndOfA = false;
    for (const QList<QVariant>& event : progress)
        sawEndOfA = sawEndOfA || (event.at(0).toString() == QStringLiteral("a") &&
                                  event.at(1).toLongLong() == kEvents);
    QVERIFY(sawEndOfA);
    QCOMPARE(progress.last().at(0).toString(), QStringLiteral("b"));
    QCOMPARE(progress.last().at(1).toLongLong(), 1);
}

// The window fits 1024 x 700 with every view and both docks: nothing forces it wider or
// taller, and the run panel's controls are reachable (it scrolls) without clipping.
void TestMainWindow::fitsSmallScreens() {
    MainWindow& w = *m_window;
    const QSize small(1024, 700);
    for (int tab = 0; tab < w.views()->count(); ++tab) {
        w.views()->setCurrentIndex(tab);
        w.resize(small);
        const QSize needed = w.minimumSizeHint();
        QVERIFY2(needed.width() <= small.width() && needed.height() <= small.height(),
                 qPrintable(QStringLiteral("%1 needs %2 x %3 (central %4, view %5, model dock %6)")
                                .arg(w.views()->tabText(tab))
                                .arg(needed.width())
                                .arg(needed.height())
                                .arg(w.centralWidget()->minimumSizeHint().width())
                                .arg(w.views()->currentWidget()->minimumSizeHint().width())
                                .arg(w.layerView()->minimumSizeHint().width())));
        QTRY_COMPARE(w.size(), small);
    }
    // The run panel is never wider than its dock: it scrolls vertically, never clips sideways.
    rs::ui::RunPanel* panel = w.runPanel();
    QVERIFY2(panel->minimumSizeHint().width() <= panel->parentWidget()->width(),
             qPrintable(QStringLiteral("run panel needs %1, has %2")
                            .arg(panel->minimumSizeHint().width())
                            .arg(panel->parentWidget()->width())));
    // Another job shows other, wider controls: the dock follows.
    panel->setJob(rs::ui::RunPanel::Job::LowRank);
    QTRY_VERIFY2(panel->minimumSizeHint().width() <= panel->parentWidget()->width(),
                 qPrintable(QStringLiteral("low-rank panel needs %1, has %2")
                                .arg(panel->minimumSizeHint().width())
                                .arg(panel->parentWidget()->width())));
    panel->setJob(rs::ui::RunPanel::Job::Compression);
}

void TestMainWindow::cleanupTestCase() {
    m_window.reset();
    QSettings().clear();
}

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
