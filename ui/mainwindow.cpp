#include "mainwindow.h"

#include "comparedialog.h"
#include "experimentsview.h"
#include "jobrunner.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "pipeline/experiment_compare.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/session.h"
#include "recentmodels.h"
#include "runpanel.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "summarypanel.h"
#include "tokenizer/tokenizer.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QToolButton>
#include <algorithm>
#include <filesystem>
#include <limits>

namespace rs::ui {

namespace {

const QString kGeometryKey = QStringLiteral("mainWindow/geometry");
const QString kStateKey = QStringLiteral("mainWindow/state");
const QString kLastDirKey = QStringLiteral("lastDirectory");

QString fromUtf8(const std::string& text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

// What the worker thread hands back after opening a model.
struct OpenedModel {
    std::shared_ptr<rs::ModelSession> session;
    QString tokenizer;
};

QString displayName(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    return name.isEmpty() ? QDir::toNativeSeparators(path) : name;
}

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_jobs(new JobRunner(this))
    , m_layers(new LayerTableModel(this)) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("RankScope"));
    setAcceptDrops(true);

    m_summary = new SummaryPanel;
    m_modelDock = new QDockWidget(tr("Model"), this);
    m_modelDock->setObjectName(QStringLiteral("modelDock"));
    m_modelDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    m_modelDock->setWidget(m_summary);
    addDockWidget(Qt::LeftDockWidgetArea, m_modelDock);

    m_runPanel = new RunPanel;
    m_runDock = new QDockWidget(tr("Run"), this);
    m_runDock->setObjectName(QStringLiteral("runDock"));
    m_runDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    m_runDock->setWidget(m_runPanel);
    addDockWidget(Qt::RightDockWidgetArea, m_runDock);
    connect(m_runPanel, &RunPanel::runRequested, this, &MainWindow::runCompression);
    connect(m_runPanel, &RunPanel::cancelRequested, this, [this] { m_jobs->cancel(); });

    m_layerView = new LayerView(m_layers);
    m_experiments = new ExperimentsView;
    connect(m_experiments, &ExperimentsView::openRequested, this, &MainWindow::openExperiment);
    connect(m_experiments, &ExperimentsView::compareRequested, this,
            &MainWindow::compareExperiments);
    m_views = new QTabWidget;
    m_views->setObjectName(QStringLiteral("views"));
    m_views->setDocumentMode(true);
    m_views->addTab(m_layerView, tr("Layers"));
    m_views->addTab(m_experiments, tr("Experiments"));
    setCentralWidget(m_views);

    createActions();
    createStatusBar();

    connect(m_jobs, &JobRunner::started, this, &MainWindow::onJobStarted);
    connect(m_jobs, &JobRunner::progress, this, &MainWindow::onJobProgress);
    connect(m_jobs, &JobRunner::finished, this, &MainWindow::onJobFinished);
    connect(m_jobs, &JobRunner::failed, this, &MainWindow::onJobFailed);
    connect(m_jobs, &JobRunner::cancelled, this, &MainWindow::onJobCancelled);
    connect(m_jobs, &JobRunner::runningChanged, this, [this](bool running) {
        m_runPanel->setRunning(running);
        m_openDirAction->setEnabled(!running);
        m_openFileAction->setEnabled(!running);
        m_recentMenu->setEnabled(!running && !RecentModels::paths().isEmpty());
        setJobWidgetsVisible(running);
    });

    restoreSettings();
    setDatabasePath(rs::defaultDatabasePath());
}

MainWindow::~MainWindow() {
    // Stop the worker before the members its results would land in go away.
    m_jobs->cancel();
    delete m_jobs;
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    m_openDirAction = file->addAction(tr("Open Model &Directory…"), QKeySequence::Open, this,
                                      &MainWindow::chooseDirectory);
    m_openDirAction->setStatusTip(tr("Open a Hugging Face model directory (config.json + "
                                     "safetensors)"));
    m_openFileAction = file->addAction(tr("Open llama2.c &File…"), QKeySequence(tr("Ctrl+Shift+O")),
                                       this, &MainWindow::chooseFile);
    m_openFileAction->setStatusTip(tr("Open a llama2.c checkpoint (.bin)"));
    m_recentMenu = file->addMenu(tr("&Recent Models"));
    m_recentMenu->setObjectName(QStringLiteral("recentMenu"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::rebuildRecentMenu);
    rebuildRecentMenu();
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_modelDock->toggleViewAction());
    view->addAction(m_runDock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About RankScope"), this, &MainWindow::showAbout)
        ->setMenuRole(QAction::AboutRole);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt)
        ->setMenuRole(QAction::AboutQtRole);
}

void MainWindow::createStatusBar() {
    m_pathLabel = new QLabel;
    m_pathLabel->setObjectName(QStringLiteral("statusPath"));
    m_pathLabel->setText(tr("No model"));
    m_pathLabel->setMinimumWidth(80);
    m_pathLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_deviceLabel = new QLabel;
    m_deviceLabel->setObjectName(QStringLiteral("statusDevice"));
    m_databaseLabel = new QLabel;
    m_databaseLabel->setObjectName(QStringLiteral("statusDatabase"));
    m_databaseLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_statusLabel = new QLabel(tr("Ready"));
    m_statusLabel->setObjectName(QStringLiteral("statusText"));
    m_progress = new QProgressBar;
    m_progress->setMaximumWidth(160);
    m_progress->setMaximumHeight(fontMetrics().height());
    m_progress->setTextVisible(false);
    m_cancelButton = new QToolButton;
    m_cancelButton->setText(tr("Cancel"));
    m_cancelButton->setToolTip(tr("Stop the running job"));
    m_cancelButton->setAutoRaise(true);
    connect(m_cancelButton, &QToolButton::clicked, m_jobs, &JobRunner::cancel);

    statusBar()->addWidget(m_pathLabel, 1);
    statusBar()->addPermanentWidget(m_statusLabel);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancelButton);
    statusBar()->addPermanentWidget(m_deviceLabel);
    statusBar()->addPermanentWidget(m_databaseLabel);
    setJobWidgetsVisible(false);
}

void MainWindow::restoreSettings() {
    const QSettings settings;
    if (!restoreGeometry(settings.value(kGeometryKey).toByteArray())) {
        resize(1280, 800);
        resizeDocks({m_modelDock, m_runDock}, {360, 320}, Qt::Horizontal);
    }
    restoreState(settings.value(kStateKey).toByteArray());
    m_runPanel->restoreSettings();
}

void MainWindow::saveSettings() const {
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState());
    m_runPanel->saveSettings();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSettings();
    m_jobs->cancel();
    QMainWindow::closeEvent(event);
}

QString MainWindow::modelPathFor(const QString& path) {
    const QFileInfo info(path);
    if (info.isDir())
        return info.absoluteFilePath();
    if (!info.isFile())
        return {};
    const QString suffix = info.suffix().toLower();
    if (suffix == QLatin1String("bin"))
        return info.absoluteFilePath();
    if (suffix == QLatin1String("safetensors") || info.fileName() == QLatin1String("config.json") ||
        info.fileName().endsWith(QLatin1String(".safetensors.index.json")))
        return info.absolutePath();
    return {};
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (!m_jobs->isRunning() && urls.size() == 1 && urls.first().isLocalFile() &&
        !modelPathFor(urls.first().toLocalFile()).isEmpty())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QList<QUrl> urls = event->mimeData()->urls();
    if (urls.size() != 1)
        return;
    const QString path = modelPathFor(urls.first().toLocalFile());
    if (!path.isEmpty() && openModel(path))
        event->acceptProposedAction();
}

bool MainWindow::openModel(const QString& path) {
    if (m_jobs->isRunning()) {
        m_statusLabel->setText(tr("Busy: %1").arg(m_jobs->currentTitle()));
        return false;
    }
    const QString absolute = QFileInfo(path).absoluteFilePath();
    const std::filesystem::path fsPath(QFile::encodeName(absolute).toStdString());
    return m_jobs->run(
        tr("Open %1").arg(displayName(absolute)),
        [fsPath](const rs::JobContext& job) {
            OpenedModel opened;
            opened.session = rs::ModelSession::open(fsPath, rs::OpenOptions{}, job);
            if (opened.session->hasTokenizer())
                opened.tokenizer = fromUtf8(opened.session->tokenizer().describe());
            return opened;
        },
        [this, absolute](OpenedModel&& opened) {
            showModel(absolute, std::move(opened.session), opened.tokenizer);
        });
}

void MainWindow::showModel(const QString& path, std::shared_ptr<rs::ModelSession> session,
                           const QString& tokenizer) {
    m_session = std::move(session);
    m_modelPath = path;
    const rs::ModelSummary& summary = m_session->summary();
    m_summary->showSummary(path, summary, tokenizer);
    m_layers->setLayers(summary.linears);
    m_pathLabel->setText(QDir::toNativeSeparators(path));
    m_pathLabel->setToolTip(QDir::toNativeSeparators(path));
    m_deviceLabel->setText(tr("Device: %1").arg(fromUtf8(m_session->deviceName())));
    m_runPanel->setModelLoaded(true);
    setWindowTitle(tr("%1 — RankScope").arg(displayName(path)));
    RecentModels::add(path);
    rebuildRecentMenu();
    emit modelOpened(path);
}

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    const QStringList paths = RecentModels::paths();
    for (int i = 0; i < paths.size(); ++i) {
        const QString path = paths[i];
        const QString text = tr("&%1  %2").arg(i + 1).arg(QDir::toNativeSeparators(path));
        QAction* action = m_recentMenu->addAction(text, this, [this, path] { openModel(path); });
        action->setStatusTip(QDir::toNativeSeparators(path));
    }
    if (!paths.isEmpty()) {
        m_recentMenu->addSeparator();
        m_recentMenu->addAction(tr("&Clear Menu"), this, [this] {
            RecentModels::clear();
            rebuildRecentMenu();
        });
    }
    m_recentMenu->setEnabled(!paths.isEmpty() && !m_jobs->isRunning());
}

void MainWindow::chooseDirectory() {
    QSettings settings;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Directory"),
                                                          settings.value(kLastDirKey).toString());
    if (dir.isEmpty())
        return;
    settings.setValue(kLastDirKey, QFileInfo(dir).absolutePath());
    openModel(dir);
}

void MainWindow::chooseFile() {
    QSettings settings;
    const QString file = QFileDialog::getOpenFileName(
        this, tr("Open llama2.c Checkpoint"), settings.value(kLastDirKey).toString(),
        tr("llama2.c checkpoints (*.bin);;All files (*)"));
    if (file.isEmpty())
        return;
    settings.setValue(kLastDirKey, QFileInfo(file).absolutePath());
    openModel(file);
}

void MainWindow::showAbout() {
    QMessageBox::about(
        this, tr("About RankScope"),
        tr("<h3>RankScope %1</h3>"
           "<p>A workbench for compressing the linear layers of transformer language models "
           "and compensating the damage with low-rank paths.</p>"
           "<p>Built with Qt %2 and LibTorch.</p>")
            .arg(QStringLiteral(RANKSCOPE_VERSION), QString::fromLatin1(qVersion())));
}

QString MainWindow::statusText() const {
    return m_statusLabel->text();
}

void MainWindow::setJobWidgetsVisible(bool visible) {
    m_progress->setVisible(visible);
    m_cancelButton->setVisible(visible);
    m_cancelButton->setEnabled(visible);
}

void MainWindow::onJobStarted(const QString& title) {
    m_jobTitle = title;
    m_jobClock.start();
    m_stage.clear();
    m_progress->setRange(0, 0);
    m_statusLabel->setText(tr("%1…").arg(title));
}

void MainWindow::onJobProgress(const QString& stage, qint64 done, qint64 total,
                               const QString& detail) {
    // QProgressBar takes int; stages with more units than that only show activity.
    if (total > 0 && total <= std::numeric_limits<int>::max()) {
        m_progress->setRange(0, int(total));
        m_progress->setValue(int(std::min(done, total)));
    } else {
        m_progress->setRange(0, 0);
    }
    const QString what = detail.isEmpty() ? stage : tr("%1: %2").arg(stage, detail);
    m_statusLabel->setText(tr("%1 — %2").arg(m_jobTitle, what));
    if (stage != m_stage) {
        m_stage = stage;
        m_stageClock.start();
    }
    m_runPanel->showProgress(stage, done, total, detail, m_stageClock.elapsed());
}

void MainWindow::onJobFinished() {
    const qint64 ms = m_jobClock.elapsed();
    const QString took =
        ms < 1000 ? tr("%1 ms").arg(ms) : tr("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    m_statusLabel->setText(tr("%1: done in %2").arg(m_jobTitle, took));
    m_runPanel->showMessage(tr("Done in %1.").arg(took));
}

void MainWindow::onJobFailed(const QString& message) {
    m_statusLabel->setText(tr("%1: failed").arg(m_jobTitle));
    // Window-modal and non-blocking, so the event loop (and any test driving it) keeps running.
    auto* box = new QMessageBox(QMessageBox::Critical, tr("RankScope"),
                                tr("%1 failed.").arg(m_jobTitle), QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("jobErrorBox"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    m_runPanel->showMessage(message);
    m_experiments->refresh(); // a failed run is recorded too
}

void MainWindow::onJobCancelled() {
    m_statusLabel->setText(tr("%1: cancelled").arg(m_jobTitle));
    m_runPanel->showMessage(tr("Cancelled."));
    m_experiments->refresh();
}

void MainWindow::setDatabasePath(const std::filesystem::path& path) {
    m_database = path;
    const QString shown = QDir::toNativeSeparators(QFile::decodeName(
        QByteArray::fromStdString(path.string())));
    m_databaseLabel->setText(tr("Store: %1").arg(QFileInfo(shown).fileName()));
    m_databaseLabel->setToolTip(shown);
    m_experiments->setDatabase(path);
}

bool MainWindow::runCompression() {
    QString problem;
    if (!m_session)
        problem = tr("Open a model first.");
    else if (m_jobs->isRunning())
        problem = tr("Busy: %1").arg(m_jobs->currentTitle());
    const auto request = problem.isEmpty() ? m_runPanel->request(&problem) : std::nullopt;
    if (!request) {
        m_runPanel->showMessage(problem);
        return false;
    }
    m_runPanel->saveSettings();
    const std::shared_ptr<rs::ModelSession> session = m_session;
    const std::filesystem::path database = m_database;
    const QString title = tr("Compress %1 (%2)")
                              .arg(displayName(m_modelPath),
                                   fromUtf8(request->compression.serialize()));
    return m_jobs->run(
        title,
        [session, database, request = *request](const rs::JobContext& job) {
            // The worker has its own connection: the GUI keeps reading through its own.
            auto store = rs::ExperimentStore::open(database);
            rs::ArtefactCache cache(rs::defaultCacheDirectory());
            return rs::runRecordedCompression(*session, request, *store, cache, {}, job)
                .experimentId;
        },
        [this](int64_t id) {
            m_experiments->refresh();
            openExperiment(id);
            emit compressionFinished(id);
        });
}

bool MainWindow::openExperiment(qint64 id) {
    try {
        rs::ExperimentStore::Options options;
        options.readOnly = true;
        auto store = rs::ExperimentStore::open(m_database, options);
        if (!store->experiment(id)) {
            m_statusLabel->setText(tr("No experiment %1 in the store").arg(id));
            return false;
        }
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
        return false;
    }
    m_experimentId = id;
    m_experiments->selectExperiment(id);
    m_statusLabel->setText(tr("Experiment %1").arg(id));
    emit experimentOpened(id);
    return true;
}

void MainWindow::compareExperiments(qint64 a, qint64 b) {
    try {
        rs::ExperimentStore::Options options;
        options.readOnly = true;
        auto store = rs::ExperimentStore::open(m_database, options);
        auto* dialog = new CompareDialog(rs::compareExperiments(*store, a, b), this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->open();
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
    }
}

} // namespace rs::ui
