// The main window's experiment work: recorded runs (compression and low-rank), rank plans,
// sensitivity measurements, showing a stored experiment, checkpoint export and comparison.
#include "budgetview.h"
#include "comparedialog.h"
#include "curveview.h"
#include "distillationview.h"
#include "experimentloader.h"
#include "experimentsview.h"
#include "export/export_job.h"
#include "export/gptq_preview.h"
#include "exportdialog.h"
#include "jobrunner.h"
#include "layermetricsview.h"
#include "layertablemodel.h"
#include "layerview.h"
#include "mainwindow.h"
#include "pipeline/experiment_compare.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/layer_analysis.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/rank_planning.h"
#include "pipeline/recording.h"
#include "pipeline/request_json.h"
#include "pipeline/sensitivity.h"
#include "pipeline/session.h"
#include "runpanel.h"
#include "runresults.h"
#include "spectrumview.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "tradeoffview.h"
#include "utf8.h"

#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMessageBox>
#include <QRegularExpression>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <filesystem>
#include <utility>

namespace rs::ui {

namespace {

// The experiment open when the workbench closed, and the store it came from.
const QString kLastExperimentKey = QStringLiteral("lastExperiment/id");
const QString kLastStoreKey = QStringLiteral("lastExperiment/store");

// What the export dialog offers for an experiment, read from the store.
ExportDialog::Choices exportChoices(const std::filesystem::path& database, qint64 id) {
    rs::ExperimentStore::Options options;
    options.readOnly = true;
    const auto store = rs::ExperimentStore::open(database, options);
    ExportDialog::Choices choices;
    choices.variants = store->variants(id);
    choices.evaluations = store->evaluations(id);
    const std::vector<rs::LayerRecord> layers = store->layers(id);
    choices.linearCount = layers.size();
    if (const auto experiment = store->experiment(id))
        choices.gptqDense = rs::gptqDenseLayers(
            layers, rs::MethodConfig::parse(experiment->compression, rs::MethodKind::Compression));
    return choices;
}

} // namespace

bool MainWindow::runCompression() {
    QString problem;
    if (!m_session)
        problem = tr("Open a model first.");
    else if (m_jobs->isRunning())
        problem = tr("Busy: %1").arg(m_jobs->currentTitle());
    if (problem.isEmpty() && m_runPanel->job() == RunPanel::Job::LowRank) {
        if (const auto request = m_runPanel->lowRankRequest(&problem)) {
            m_runPanel->saveSettings();
            return startRecordedLowRank(*request);
        }
    }
    const auto request = problem.isEmpty() ? m_runPanel->request(&problem) : std::nullopt;
    if (!request) {
        m_runPanel->showMessage(problem);
        return false;
    }
    m_runPanel->saveSettings();
    return startRecordedRun(
        tr("Compress %1 (%2)")
            .arg(displayName(m_modelPath), fromUtf8(request->compression.serialize())),
        *request);
}

bool MainWindow::startRecordedLowRank(const rs::LowRankRequest& request) {
    const std::shared_ptr<rs::ModelSession> session = m_session;
    return startRecordedJob(
        tr("Low-rank %1 (%2)").arg(displayName(m_modelPath), fromUtf8(request.method.serialize())),
        [session, request](rs::ExperimentStore& store, const rs::JobContext& job) {
            return rs::runRecordedLowRank(*session, request, store, {}, job).experimentId;
        });
}

bool MainWindow::startRecordedRun(const QString& title, const rs::CompressRequest& request) {
    const std::shared_ptr<rs::ModelSession> session = m_session;
    return startRecordedJob(title, [session, request](rs::ExperimentStore& store,
                                                      const rs::JobContext& job) {
        rs::ArtefactCache cache(rs::defaultCacheDirectory());
        return rs::runRecordedCompression(*session, request, store, cache, {}, job).experimentId;
    });
}

bool MainWindow::startRecordedJob(const QString& title, RecordedJob run) {
    const std::filesystem::path database = m_database;
    m_runActive = true;
    const bool started = m_jobs->run(
        title,
        [database, run](const rs::JobContext& job) {
            int64_t id = 0;
            {
                // The worker has its own connection: the GUI keeps reading through its own.
                auto store = rs::ExperimentStore::open(database);
                id = run(*store, job);
            }
            // Read back here too, so that the GUI thread only shows it.
            return std::make_shared<LoadedExperiment>(loadExperiment(database, id));
        },
        [this](std::shared_ptr<LoadedExperiment> loaded) {
            m_experiments->refresh();
            const qint64 id = loaded->id;
            const bool distilled = !loaded->distillations.empty();
            m_runPanel->results()->showExperiment(*loaded);
            showExperiment(std::move(loaded), [this, id, distilled] {
                // Lillama's losses are what is new in such a run.
                if (distilled)
                    m_views->setCurrentWidget(m_distillation);
                emit compressionFinished(id);
            });
        });
    if (!started)
        m_runActive = false;
    return started;
}

void MainWindow::applyPlan(qint64 experiment, const QString& compensation,
                           const rs::RankPlan& plan) {
    if (!m_session) {
        m_statusLabel->setText(tr("Open the experiment's model to apply a plan."));
        return;
    }
    rs::CompressRequest request;
    try {
        const rs::ExperimentRecord stored = storedExperiment(m_database, experiment);
        if (stored.kind == rs::ExperimentKind::LowRank)
            throw std::runtime_error("a rank plan applies to compensated compressions, not to "
                                     "low-rank (LoRD/Lillama) runs");
        request = rs::compressRequestOf(stored);
        request.compensations = {
            rs::MethodConfig::parse(compensation.toStdString(), rs::MethodKind::Compensation)};
        request.plan = plan;
        request.ranks.clear();
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
        return;
    }
    startRecordedRun(tr("Apply rank plan of experiment %1").arg(experiment), request);
}

void MainWindow::analyseSelectedLayers() {
    if (!m_session || m_experimentId == 0) {
        m_statusLabel->setText(tr("Open an experiment and its model to analyse its layers."));
        return;
    }
    QStringList names;
    for (const QModelIndex& index : m_layerView->table()->selectionModel()->selectedRows())
        names << QRegularExpression::escape(
            m_layerView->proxy()->index(index.row(), 0).data().toString());
    const std::string pattern = names.isEmpty()
                                    ? std::string(".")
                                    : QStringLiteral("^(%1)$").arg(names.join(u'|')).toStdString();
    const std::shared_ptr<rs::ModelSession> session = m_session;
    const std::filesystem::path database = m_database;
    const qint64 experiment = m_experimentId;
    const bool started = m_jobs->run(
        tr("Analyse layers of experiment %1").arg(experiment),
        [session, database, experiment, pattern](const rs::JobContext& job) {
            {
                auto store = rs::ExperimentStore::open(database);
                const rs::ArtefactCache cache(rs::defaultCacheDirectory());
                rs::analyzeRecordedLayers(*session, *store, cache, experiment, pattern, job);
            }
            return std::make_shared<LoadedExperiment>(loadExperiment(database, experiment));
        },
        [this](std::shared_ptr<LoadedExperiment> loaded) {
            if (loaded->id == m_experimentId)
                showExperiment(std::move(loaded), [] {});
        });
    if (!started)
        m_statusLabel->setText(tr("Wait for the running job to analyse layers."));
}

void MainWindow::measureSensitivities(qint64 experiment) {
    if (!m_session || m_jobs->isRunning()) {
        m_budget->sensitivitiesUnavailable(tr("open the experiment's model and wait for the "
                                              "running job to measure them"));
        return;
    }
    // A few windows per layer are enough to rank the layers; the CLI uses the same default.
    constexpr int64_t kSensitivityWindows = 8;
    const std::shared_ptr<rs::ModelSession> session = m_session;
    const std::filesystem::path database = m_database;
    const bool started = m_jobs->run(
        tr("Measure layer sensitivities of experiment %1").arg(experiment),
        [session, database, experiment](const rs::JobContext& job) {
            auto store = rs::ExperimentStore::open(database);
            const rs::StoredCurves curves = rs::loadStoredCurves(*store, experiment);
            return rs::layerSensitivities(*session, *store, curves, kSensitivityWindows, job);
        },
        [this, experiment](std::vector<double>&& sensitivities) {
            if (m_experimentId == experiment)
                m_budget->setSensitivities(std::move(sensitivities));
        });
    if (!started)
        m_budget->sensitivitiesUnavailable(tr("another job is running"));
}

bool MainWindow::openExperiment(qint64 id) {
    try {
        showExperiment(std::make_shared<LoadedExperiment>(loadExperiment(m_database, id)), {});
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
        return false;
    }
    return true;
}

bool MainWindow::reopenLastExperiment() {
    const QSettings settings;
    const qint64 id = settings.value(kLastExperimentKey).toLongLong();
    const QString store = settings.value(kLastStoreKey).toString();
    if (id <= 0 || store != QFile::decodeName(QByteArray::fromStdString(m_database.string())) ||
        !QFile::exists(store))
        return false;
    return openExperiment(id);
}

void MainWindow::showExperiment(std::shared_ptr<LoadedExperiment> loaded,
                                std::function<void()> done) {
    m_experimentId = loaded->id;
    m_exportAction->setEnabled(!m_jobs->isRunning());
    m_experiments->selectExperiment(loaded->id);
    m_statusLabel->setText(tr("Experiment %1").arg(loaded->id));
    m_viewHeader->setText(RunResults::headline(*loaded));
    m_viewHeader->setToolTip(tr("Every view shows this experiment:\n%1").arg(m_viewHeader->text()));
    QSettings settings;
    settings.setValue(kLastExperimentKey, loaded->id);
    settings.setValue(kLastStoreKey,
                      QFile::decodeName(QByteArray::fromStdString(m_database.string())));
    // Each view is filled in its own turn of the event loop, so the window stays responsive
    // while a large experiment (hundreds of layers, curves of thousands of points) is shown.
    const std::vector<std::function<void()>> stages{
        [this, loaded] { m_spectra->setLayers(loaded->layers); },
        [this, loaded] {
            m_curves->setPair(loaded->lowRank ? CurveView::Pair::LowRank
                                              : CurveView::Pair::Compensation);
            m_curves->setLayers(loaded->layers);
            // The curves mark the ranks of the main variant (the exact optimum where it ran).
            const rs::VariantRecord* shown = nullptr;
            for (const rs::VariantRecord& v : loaded->variants)
                if (const rs::MethodSpec* m = rs::recordedMethod(v);
                    m && m->fitsFactors() &&
                    (!shown || m->traits.weighting == rs::InputWeighting::Gram))
                    shown = &v;
            if (shown)
                m_curves->setVariant(*shown);
            QList<qint64> runRanks;
            for (const rs::VariantRecord& v : loaded->variants)
                if (v.rank > 0 && !runRanks.contains(v.rank))
                    runRanks << v.rank;
            m_curves->setRunRanks(runRanks);
            m_shown = loaded;
            m_shownVariant = shown ? shown->index : -1;
            showLayerResults();
            onLayerSelectionChanged();
        },
        [this, loaded] {
            if (loaded->curves)
                m_budget->setCurves(*loaded->curves);
            else
                m_budget->clear();
        },
        [this, loaded] {
            if (!loaded->modelPath.empty())
                m_tradeoffs->setModelPath(loaded->modelPath);
        },
        [this, loaded] { m_distillation->setRecords(loaded->distillations, loaded->variants); },
        [this, loaded] { m_layerMetrics->setLayers(loaded->layers, loaded->weightMetrics); },
        [this, loaded, done] {
            emit experimentOpened(loaded->id);
            if (done)
                done();
        },
    };
    for (size_t i = 0; i < stages.size(); ++i)
        QTimer::singleShot(0, this, [this, id = loaded->id, stage = stages[i]] {
            if (m_experimentId == id) // a later open supersedes this one
                stage();
        });
}

void MainWindow::showLayerResults() {
    if (!m_shown) {
        m_layers->clearResults();
        return;
    }
    const int v = m_shownVariant;
    const QString label = v >= 0 && size_t(v) < m_shown->variants.size()
                              ? fromUtf8(m_shown->variants[size_t(v)].label)
                              : QString();
    m_layers->setResults(m_shown->layers, m_shown->weightMetrics, v, label);
}

void MainWindow::exportCheckpoint() {
    if (m_experimentId <= 0 || m_jobs->isRunning())
        return;
    ExportDialog::Choices choices;
    try {
        choices = exportChoices(m_database, m_experimentId);
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
        return;
    }
    ExportDialog dialog(m_experimentId, choices, this);
    if (dialog.exec() == QDialog::Accepted)
        runExport(dialog.request());
}

bool MainWindow::runExport(const rs::ExportRequest& request) {
    const std::filesystem::path database = m_database;
    return m_jobs->run(
        tr("Export experiment %1").arg(m_experimentId),
        [database, request](const rs::JobContext& job) {
            auto store = rs::ExperimentStore::open(database);
            return rs::exportExperiment(*store, request, job);
        },
        [this](rs::ExportResult&& result) {
            const QString path = QFile::decodeName(QByteArray::fromStdString(result.path.string()));
            QString text = tr("Exported %1 (%2, %3 MB) to %4.")
                               .arg(fromUtf8(result.variant), fromUtf8(result.format))
                               .arg(double(result.bytes) / 1e6, 0, 'f', 1)
                               .arg(QDir::toNativeSeparators(path));
            if (result.reloaded && result.inMemory)
                text += tr("\nPerplexity in memory %1, read back from disk %2.")
                            .arg(result.inMemory->perplexity, 0, 'f', 4)
                            .arg(result.reloaded->perplexity, 0, 'f', 4);
            if (result.inRuntimeDtype)
                text += tr("\nRun in %1, as half-precision runtimes compute: %2.")
                            .arg(fromUtf8(result.runtimeDtype))
                            .arg(result.inRuntimeDtype->perplexity, 0, 'f', 4);
            for (const std::string& note : result.written.runtimeNotes)
                text += QStringLiteral("\n") + fromUtf8(note);
            auto* box = new QMessageBox(QMessageBox::Information, tr("Export Checkpoint"), text,
                                        QMessageBox::Ok, this);
            box->setObjectName(QStringLiteral("exportDoneBox"));
            box->setAttribute(Qt::WA_DeleteOnClose);
            box->open();
        });
}

void MainWindow::compareExperiments(const QList<qint64>& ids) {
    try {
        rs::ExperimentStore::Options options;
        options.readOnly = true;
        auto store = rs::ExperimentStore::open(m_database, options);
        const std::vector<int64_t> list(ids.begin(), ids.end());
        auto* dialog = new CompareDialog(rs::compareExperiments(*store, list), this);
        std::vector<std::vector<rs::LayerRecord>> layers;
        for (const int64_t id : list)
            layers.push_back(store->layers(id));
        dialog->setLayers(std::move(layers));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->open();
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
    }
}

bool MainWindow::reuseExperimentSettings(qint64 id) {
    try {
        const rs::ExperimentRecord stored = storedExperiment(m_database, id);
        if (stored.kind == rs::ExperimentKind::LowRank)
            m_runPanel->setLowRankRequest(
                rs::lowRankRequestFromJson(stored.request, "experiment " + std::to_string(id)));
        else
            m_runPanel->setRequest(rs::compressRequestOf(stored));
    } catch (const std::exception& e) {
        m_statusLabel->setText(fromUtf8(e.what()));
        return false;
    }
    m_runDock->show();
    m_runDock->raise();
    m_statusLabel->setText(tr("The run panel shows the settings of experiment %1.").arg(id));
    return true;
}

} // namespace rs::ui
