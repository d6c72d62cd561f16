// The main window: model and run docks, the analysis views, menus, settings, opening models
// and the running job's status. Experiment work lives in mainwindow_experiments.cpp.
#include "mainwindow.h"

#include "budgetview.h"
#include "curveview.h"
#include "distillationview.h"
#include "experimentsview.h"
#include "jobrunner.h"
#include "layermetricsview.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "pipeline/session.h"
#include "plotexport.h"
#include "preferencesdialog.h"
#include "recentmodels.h"
#include "runpanel.h"
#include "spectrumview.h"
#include "store/experiment_store.h"
#include "summarypanel.h"
#include "tokenizer/tokenizer.h"
#include "tradeoffview.h"
#include "utf8.h"

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
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <filesystem>
#include <limits>
#include <utility>

namespace rs::ui {

namespace {

// A vertical scroller as wide as its panel's controls need, now (method forms change what they
// hold): the central views give way first, and the panel never clips sideways.
class PanelScrollArea : public QScrollArea {
public:
    QSize minimumSizeHint() const override {
        const QSize panel = widget() ? widget()->minimumSizeHint() : QSize();
        return {panel.width() + verticalScrollBar()->sizeHint().width() + 2 * frameWidth(),
                QScrollArea::minimumSizeHint().height()};
    }
    // setWidget() filters the panel's events: when its needs change (a method with other
    // parameters), the dock asks again.
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (watched == widget() && event->type() == QEvent::LayoutRequest)
            updateGeometry();
        return QScrollArea::eventFilter(watched, event);
    }
};

const QString kGeometryKey = QStringLiteral("mainWindow/geometry");
const QString kStateKey = QStringLiteral("mainWindow/state");
const QString kLastDirKey = QStringLiteral("lastDirectory");

// What the worker thread hands back after opening a model.
struct OpenedModel {
    std::shared_ptr<rs::ModelSession> session;
    QString tokenizer;
};

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_jobs(new JobRunner(this))
    , m_layers(new LayerTableModel(this)) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("RankScope"));
    setAcceptDrops(true);

    // The model panel: summary above the layer table, whose selection drives the analysis views.
    m_summary = new SummaryPanel;
    m_layerView = new LayerView(m_layers);
    auto* modelPanel = new QSplitter(Qt::Vertical);
    modelPanel->setObjectName(QStringLiteral("modelPanel"));
    modelPanel->addWidget(m_summary);
    modelPanel->addWidget(m_layerView);
    modelPanel->setStretchFactor(1, 1);
    modelPanel->setSizes({280, 520}); // the summary fully visible above the layer table
    modelPanel->setMinimumWidth(240);
    m_modelDock = new QDockWidget(tr("Model"), this);
    m_modelDock->setObjectName(QStringLiteral("modelDock"));
    m_modelDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    m_modelDock->setWidget(modelPanel);
    addDockWidget(Qt::LeftDockWidgetArea, m_modelDock);
    m_layerView->table()->setSelectionMode(QAbstractItemView::ExtendedSelection);
    connect(m_layerView->table()->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onLayerSelectionChanged);
    auto* analyse = new QAction(tr("Analyse Selected Layers"), m_layerView->table());
    connect(analyse, &QAction::triggered, this, &MainWindow::analyseSelectedLayers);
    m_layerView->table()->addAction(analyse);
    m_layerView->table()->setContextMenuPolicy(Qt::ActionsContextMenu);

    m_runPanel = new RunPanel;
    m_runDock = new QDockWidget(tr("Run"), this);
    m_runDock->setObjectName(QStringLiteral("runDock"));
    m_runDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    // Scrolls, so that a short screen (1024 x 700) reaches Run and the results.
    auto* runScroll = new PanelScrollArea;
    runScroll->setObjectName(QStringLiteral("runScroll"));
    runScroll->setWidget(m_runPanel);
    runScroll->setWidgetResizable(true);
    runScroll->setFrameShape(QFrame::NoFrame);
    m_runDock->setWidget(runScroll);
    addDockWidget(Qt::RightDockWidgetArea, m_runDock);
    connect(m_runPanel, &RunPanel::runRequested, this, &MainWindow::runCompression);
    connect(m_runPanel, &RunPanel::cancelRequested, this, [this] { m_jobs->cancel(); });

    createViews();

    createActions();
    createStatusBar();

    connect(m_jobs, &JobRunner::started, this, &MainWindow::onJobStarted);
    connect(m_jobs, &JobRunner::progress, this, &MainWindow::onJobProgress);
    connect(m_jobs, &JobRunner::finished, this, &MainWindow::onJobFinished);
    connect(m_jobs, &JobRunner::failed, this, &MainWindow::onJobFailed);
    connect(m_jobs, &JobRunner::cancelled, this, &MainWindow::onJobCancelled);
    connect(m_jobs, &JobRunner::runningChanged, this, [this](bool running) {
        if (!running || m_runActive)
            m_runPanel->setRunning(running);
        m_runPanel->setOtherJobRunning(running && !m_runActive);
        m_budget->setJobRunning(running);
        m_openDirAction->setEnabled(!running);
        m_openFileAction->setEnabled(!running);
        m_exportAction->setEnabled(!running && m_experimentId > 0);
        m_recentMenu->setEnabled(!running && !RecentModels::paths().isEmpty());
        setJobWidgetsVisible(running);
    });

    restoreSettings();
    setDatabasePath(rs::defaultDatabasePath());
}

QString MainWindow::displayName(const QString& path) {
    const QString name = QFileInfo(path).fileName();
    return name.isEmpty() ? QDir::toNativeSeparators(path) : name;
}

MainWindow::~MainWindow() {
    // Stop the worker before the members its results would land in go away.
    m_jobs->cancel();
    delete m_jobs;
}

void MainWindow::createViews() {
    m_spectra = new SpectrumView;
    m_curves = new CurveView;
    m_layerMetrics = new LayerMetricsView;
    m_budget = new BudgetView;
    m_tradeoffs = new TradeoffView;
    m_distillation = new DistillationView;
    m_experiments = new ExperimentsView;
    m_views = new QTabWidget;
    m_views->setObjectName(QStringLiteral("views"));
    m_views->setDocumentMode(true);
    m_views->addTab(m_spectra, tr("Spectra"));
    m_views->addTab(m_curves, tr("Error Curves"));
    m_views->addTab(m_layerMetrics, tr("Layer Metrics"));
    m_views->addTab(m_budget, tr("Rank Budget"));
    m_views->addTab(m_tradeoffs, tr("Trade-offs"));
    m_views->addTab(m_distillation, tr("Distillation"));
    m_views->addTab(m_experiments, tr("Experiments"));
    // Which experiment every view shows, above them all.
    m_viewHeader = new QLabel(tr("No experiment open: run one or open one from Experiments."));
    m_viewHeader->setObjectName(QStringLiteral("experimentHeader"));
    m_viewHeader->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_viewHeader->setContentsMargins(6, 4, 6, 2);
    m_viewHeader->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    auto* central = new QWidget;
    auto* centralLayout = new QVBoxLayout(central);
    centralLayout->setContentsMargins(0, 0, 0, 0);
    centralLayout->setSpacing(0);
    centralLayout->addWidget(m_viewHeader);
    centralLayout->addWidget(m_views, 1);
    setCentralWidget(central);

    connect(m_experiments, &ExperimentsView::openRequested, this, &MainWindow::openExperiment);
    connect(m_experiments, &ExperimentsView::compareRequested, this,
            &MainWindow::compareExperiments);
    connect(m_experiments, &ExperimentsView::reuseRequested, this,
            &MainWindow::reuseExperimentSettings);
    connect(m_experiments, &ExperimentsView::experimentsChanged, m_tradeoffs,
            &TradeoffView::refresh);
    connect(m_tradeoffs, &TradeoffView::openRequested, this, [this](qint64 id) {
        if (openExperiment(id))
            m_views->setCurrentWidget(m_curves);
    });
    connect(m_spectra, &SpectrumView::analysisRequested, this, &MainWindow::analyseSelectedLayers);
    connect(m_curves, &CurveView::analysisRequested, this, &MainWindow::analyseSelectedLayers);
    // A heatmap row picks that layer everywhere.
    connect(m_spectra, &SpectrumView::layerActivated, this, [this](int row) {
        const auto& layers = m_spectra->layers();
        if (row >= 0 && size_t(row) < layers.size())
            selectLayers({fromUtf8(layers[size_t(row)].name)});
    });
    // The curves follow the plan being tuned: its rank marker and the model-level total.
    connect(m_budget, &BudgetView::planChanged, this, [this] {
        const rs::RankPlan plan = m_budget->currentPlan();
        std::vector<int64_t> ranks;
        for (const rs::LayerRecord& l : m_curves->layers())
            ranks.push_back(plan.perLayer.count(l.name) ? plan.perLayer.at(l.name) : -1);
        m_curves->setRanks(ranks, tr("plan"));
    });
    connect(m_budget, &BudgetView::applyRequested, this, &MainWindow::applyPlan);
    connect(m_budget, &BudgetView::sensitivitiesRequested, this, &MainWindow::measureSensitivities);
}

void MainWindow::onLayerSelectionChanged() {
    QStringList names;
    const QModelIndexList rows = m_layerView->table()->selectionModel()->selectedRows();
    for (const QModelIndex& index : rows)
        names << m_layerView->proxy()->index(index.row(), 0).data().toString();
    QList<int> selected;
    const auto& layers = m_spectra->layers();
    for (size_t i = 0; i < layers.size(); ++i)
        if (names.contains(fromUtf8(layers[i].name)))
            selected << int(i);
    if (selected.isEmpty())
        return;
    m_spectra->setSelectedLayers(selected);
    m_curves->setSelectedLayers(selected);
    m_distillation->showBlock(layers[size_t(selected.front())].block);
}

void MainWindow::selectLayers(const QStringList& names) {
    QItemSelectionModel* selection = m_layerView->table()->selectionModel();
    QItemSelection wanted;
    const QAbstractItemModel* proxy = m_layerView->proxy();
    // The table's selection is the one all views follow: a layer its filter hides is shown first.
    const auto visible = [proxy](const QString& name) {
        for (int row = 0; row < proxy->rowCount(); ++row)
            if (proxy->index(row, 0).data().toString() == name)
                return true;
        return false;
    };
    if (!std::all_of(names.begin(), names.end(), visible) &&
        !m_layerView->filterEdit()->text().isEmpty()) {
        m_layerView->filterEdit()->clear();
        m_statusLabel->setText(
            tr("Layer filter cleared to show %1.").arg(names.join(QStringLiteral(", "))));
    }
    for (int row = 0; row < proxy->rowCount(); ++row)
        if (names.contains(proxy->index(row, 0).data().toString()))
            wanted.select(proxy->index(row, 0), proxy->index(row, proxy->columnCount() - 1));
    selection->select(wanted, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    if (!wanted.isEmpty())
        m_layerView->table()->scrollTo(wanted.indexes().first());
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
    m_exportAction = file->addAction(tr("&Export Checkpoint…"), QKeySequence(tr("Ctrl+E")), this,
                                     &MainWindow::exportCheckpoint);
    m_exportAction->setObjectName(QStringLiteral("exportCheckpointAction"));
    m_exportAction->setStatusTip(tr("Write the open experiment as a GPTQ + adapter, merged or "
                                    "factorized checkpoint"));
    m_exportAction->setEnabled(false);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* edit = menuBar()->addMenu(tr("&Edit"));
    edit->addAction(tr("&Preferences…"), QKeySequence::Preferences, this,
                    &MainWindow::showPreferences)
        ->setMenuRole(QAction::PreferencesRole);

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
    showLayerResults();
    m_pathLabel->setText(QDir::toNativeSeparators(path));
    m_pathLabel->setToolTip(QDir::toNativeSeparators(path));
    m_deviceLabel->setText(tr("Device: %1").arg(fromUtf8(m_session->deviceName())));
    m_runPanel->setModelLoaded(true);
    m_tradeoffs->setModelPath(QFileInfo(path).canonicalFilePath().toStdString());
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

// A compression run shows its progress and Cancel in the run panel: one bar, not two.
void MainWindow::setJobWidgetsVisible(bool visible) {
    const bool here = visible && !m_runActive;
    m_progress->setVisible(here);
    m_cancelButton->setVisible(here);
    m_cancelButton->setEnabled(here);
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
    if (m_runActive)
        m_runPanel->showProgress(stage, done, total, detail, m_stageClock.elapsed());
}

void MainWindow::onJobFinished() {
    const qint64 ms = m_jobClock.elapsed();
    const QString took =
        ms < 1000 ? tr("%1 ms").arg(ms) : tr("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    m_statusLabel->setText(tr("%1: done in %2").arg(m_jobTitle, took));
    if (std::exchange(m_runActive, false))
        m_runPanel->showMessage(tr("Done in %1.").arg(took));
}

void MainWindow::onJobFailed(const QString& message) {
    m_statusLabel->setText(tr("%1: failed").arg(m_jobTitle));
    m_budget->sensitivitiesUnavailable(message);
    // Window-modal and non-blocking, so the event loop (and any test driving it) keeps running.
    auto* box = new QMessageBox(QMessageBox::Critical, tr("RankScope"),
                                tr("%1 failed.").arg(m_jobTitle), QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("jobErrorBox"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    if (std::exchange(m_runActive, false)) {
        m_runPanel->showMessage(message);
        m_experiments->refresh(); // a failed run is recorded too
    }
}

void MainWindow::onJobCancelled() {
    m_budget->sensitivitiesUnavailable(tr("cancelled"));
    m_statusLabel->setText(tr("%1: cancelled").arg(m_jobTitle));
    if (std::exchange(m_runActive, false)) {
        m_runPanel->showMessage(tr("Cancelled."));
        m_experiments->refresh();
    }
}

void MainWindow::setDatabasePath(const std::filesystem::path& path) {
    m_database = path;
    const QString shown =
        QDir::toNativeSeparators(QFile::decodeName(QByteArray::fromStdString(path.string())));
    m_databaseLabel->setText(tr("Store: %1").arg(QFileInfo(shown).fileName()));
    m_databaseLabel->setToolTip(shown);
    m_experiments->setDatabase(path);
    m_tradeoffs->setDatabase(path);
}

void MainWindow::showPreferences() {
    auto* dialog = new PreferencesDialog(
        QDir::toNativeSeparators(QFile::decodeName(QByteArray::fromStdString(m_database.string()))),
        this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &PreferencesDialog::languageChosen, this, &MainWindow::languageChosen);
    dialog->open();
}

MainWindow::Handover MainWindow::handover() {
    saveSettings();
    return {m_session, m_modelPath, m_database, m_experimentId, m_views->currentIndex()};
}

void MainWindow::takeOver(const Handover& state) {
    if (state.database != m_database)
        setDatabasePath(state.database);
    if (state.session)
        showModel(state.modelPath, state.session, fromUtf8(state.session->tokenizer().describe()));
    if (state.experiment > 0)
        openExperiment(state.experiment);
    m_views->setCurrentIndex(state.view);
}

} // namespace rs::ui
