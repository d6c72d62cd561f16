#pragma once

#include <QElapsedTimer>
#include <QMainWindow>
#include <filesystem>
#include <functional>
#include <memory>

class QAction;
class QDockWidget;
class QLabel;
class QMenu;
class QProgressBar;
class QTabWidget;
class QToolButton;

namespace rs {
class ModelSession;
struct CompressRequest;
class ExperimentStore;
struct ExportRequest;
struct JobContext;
struct LowRankRequest;
struct RankPlan;
} // namespace rs

namespace rs::ui {

struct LoadedExperiment;
class BudgetView;
class CurveView;
class LayerMetricsView;
class DistillationView;
class ExperimentsView;
class JobRunner;
class LayerTableModel;
class RunPanel;
class SpectrumView;
class TradeoffView;
class LayerView;
class SummaryPanel;

// The workbench window: model panel (dock, left), views (tabs, centre), status bar with the
// running job. Views added by later features become further tabs or docks.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Starts opening a model directory or llama2.c .bin file in the background; the current model
    // stays on screen until the new one has loaded. Returns false while another job runs.
    bool openModel(const QString& path);

    // A model directory or .bin file for a dropped or chosen path (a config.json or .safetensors
    // file stands for its directory), or an empty string when it is none of those.
    static QString modelPathFor(const QString& path);

    bool hasModel() const { return m_session != nullptr; }
    QString modelPath() const { return m_modelPath; }
    std::shared_ptr<rs::ModelSession> session() const { return m_session; }

    JobRunner* jobRunner() const { return m_jobs; }
    LayerTableModel* layerModel() const { return m_layers; }
    LayerView* layerView() const { return m_layerView; }
    SummaryPanel* summaryPanel() const { return m_summary; }
    QTabWidget* views() const { return m_views; }
    RunPanel* runPanel() const { return m_runPanel; }
    ExperimentsView* experimentsView() const { return m_experiments; }
    DistillationView* distillationView() const { return m_distillation; }
    SpectrumView* spectrumView() const { return m_spectra; }
    CurveView* curveView() const { return m_curves; }
    LayerMetricsView* layerMetricsView() const { return m_layerMetrics; }
    BudgetView* budgetView() const { return m_budget; }
    TradeoffView* tradeoffView() const { return m_tradeoffs; }
    // Shows the layers with these names (of the open experiment) in the analysis views.
    void selectLayers(const QStringList& names);
    QString statusText() const;

    // The experiment store the window records runs in and lists (default: defaultDatabasePath()).
    void setDatabasePath(const std::filesystem::path& path);
    const std::filesystem::path& databasePath() const { return m_database; }

    // Runs the run panel's job (compression or low-rank) on the open model in the background and
    // records it as an experiment. Returns false (with the reason in the run panel) when it
    // cannot start.
    bool runCompression();
    // Shows a stored experiment in the analysis views.
    bool openExperiment(qint64 id);
    // Opens the experiment that was open when the workbench last closed, when this store still
    // has it; false when there is none.
    bool reopenLastExperiment();
    QLabel* experimentHeader() const { return m_viewHeader; }
    qint64 currentExperiment() const { return m_experimentId; }
    void compareExperiments(const QList<qint64>& ids);
    // Puts a stored experiment's request into the run panel (either job); false with the reason
    // in the status bar when it cannot be read.
    bool reuseExperimentSettings(qint64 id);
    // Asks for the format and folder and exports the open experiment in the background.
    void exportCheckpoint();
    // Exports in the background (the export pipeline re-runs, writes, reloads and checks).
    bool runExport(const rs::ExportRequest& request);

    // What a window built to replace this one (a new interface language, see WindowHost) takes
    // over: the open model, which is not loaded again, the store, the shown experiment and the
    // view. The rest (geometry, docks, the run panel) goes through the saved settings.
    struct Handover {
        std::shared_ptr<rs::ModelSession> session;
        QString modelPath;
        std::filesystem::path database;
        qint64 experiment = 0;
        int view = 0;
    };
    Handover handover();
    void takeOver(const Handover& state);

signals:
    // Emitted once the window shows the newly opened model.
    void modelOpened(const QString& path);
    // A run from the run panel (compression or low-rank) finished, was recorded as experiment
    // `id` and is shown.
    void compressionFinished(qint64 id);
    // The analysis views show experiment `id`.
    void experimentOpened(qint64 id);
    // Preferences chose another interface language (already stored in the settings).
    void languageChosen(const QString& language);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    // The file or directory name of a model path, for titles.
    static QString displayName(const QString& path);
    void createActions();
    void createStatusBar();
    void restoreSettings();
    void saveSettings() const;
    void rebuildRecentMenu();
    void chooseDirectory();
    void chooseFile();
    void showAbout();
    void showModel(const QString& path, std::shared_ptr<rs::ModelSession> session,
                   const QString& tokenizer);

    void onJobStarted(const QString& title);
    void onJobProgress(const QString& stage, qint64 done, qint64 total, const QString& detail);
    void onJobFinished();
    void onJobFailed(const QString& message);
    void onJobCancelled();
    void setJobWidgetsVisible(bool visible);
    void createViews();
    void onLayerSelectionChanged();
    void applyPlan(qint64 experiment, const QString& compensation, const rs::RankPlan& plan);
    bool startRecordedRun(const QString& title, const rs::CompressRequest& request);
    bool startRecordedLowRank(const rs::LowRankRequest& request);
    // Runs `run` on the worker with its own store connection, then reads the experiment it
    // recorded back there and shows it.
    using RecordedJob = std::function<int64_t(rs::ExperimentStore&, const rs::JobContext&)>;
    bool startRecordedJob(const QString& title, RecordedJob run);
    void showPreferences();
    void measureSensitivities(qint64 experiment);
    // Analyses the layers selected in the layer table (all when none is) of the shown
    // experiment from its cached statistics, then shows it again.
    void analyseSelectedLayers();
    // Fills the views with an experiment, one view per event-loop turn; `done` runs after the
    // last one (experimentOpened() is emitted just before it).
    void showExperiment(std::shared_ptr<LoadedExperiment> loaded, std::function<void()> done);
    // The shown experiment's per-layer results in the layer table (again after a model opens).
    void showLayerResults();

    JobRunner* m_jobs;
    LayerTableModel* m_layers;
    SummaryPanel* m_summary = nullptr;
    LayerView* m_layerView = nullptr;
    QDockWidget* m_modelDock = nullptr;
    QDockWidget* m_runDock = nullptr;
    RunPanel* m_runPanel = nullptr;
    ExperimentsView* m_experiments = nullptr;
    SpectrumView* m_spectra = nullptr;
    CurveView* m_curves = nullptr;
    LayerMetricsView* m_layerMetrics = nullptr;
    DistillationView* m_distillation = nullptr;
    BudgetView* m_budget = nullptr;
    TradeoffView* m_tradeoffs = nullptr;
    QTabWidget* m_views = nullptr;
    QLabel* m_viewHeader = nullptr; // names the experiment the views show

    QAction* m_openDirAction = nullptr;
    QAction* m_openFileAction = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_exportAction = nullptr;

    QLabel* m_pathLabel = nullptr;
    QLabel* m_deviceLabel = nullptr;
    QLabel* m_databaseLabel = nullptr;
    QLabel* m_statusLabel = nullptr;
    QProgressBar* m_progress = nullptr;
    QToolButton* m_cancelButton = nullptr;

    std::shared_ptr<rs::ModelSession> m_session;
    QString m_modelPath;
    QString m_jobTitle;
    QElapsedTimer m_jobClock;
    QString m_stage;
    QElapsedTimer m_stageClock;
    std::filesystem::path m_database;
    qint64 m_experimentId = 0;
    std::shared_ptr<LoadedExperiment> m_shown; // the experiment the views show
    int m_shownVariant = -1;                   // its variant the curves and the table show
    bool m_runActive = false; // the running job is a compression run (the run panel shows it)
};

} // namespace rs::ui
