#include "viewrenderer.h"

#include "budgetview.h"
#include "comparedialog.h"
#include "curveview.h"
#include "distillationview.h"
#include "experimentsview.h"
#include "jobrunner.h"
#include "layermetricsview.h"
#include "lowrankoptions.h"
#include "mainwindow.h"
#include "methodform.h"
#include "pipeline/experiment_compare.h"
#include "plotexport.h"
#include "preferencesdialog.h"
#include "runpanel.h"
#include "spectrumview.h"
#include "store/experiment_store.h"
#include "tradeoffview.h"

#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QSlider>
#include <QTabWidget>
#include <QTimer>
#include <cstdio>

namespace {

// Lets queued replots and layouts settle before a view is grabbed.
void settle() {
    QEventLoop loop;
    QTimer::singleShot(400, &loop, &QEventLoop::quit);
    loop.exec();
}

} // namespace

ViewRenderer::ViewRenderer(rs::ui::MainWindow& window, QString outputDir, QString calibText,
                           QString evalText)
    : m_window(window)
    , m_dir(std::move(outputDir))
    , m_calib(std::move(calibText))
    , m_eval(std::move(evalText)) {}

void ViewRenderer::start() {
    QDir().mkpath(m_dir);
    connect(&m_window, &rs::ui::MainWindow::modelOpened, this, [this] {
        QTimer::singleShot(0, this, [this] {
            if (save(&m_window, QStringLiteral("00-model")))
                runNext();
        });
    });
    connect(&m_window, &rs::ui::MainWindow::compressionFinished, this, [this](qint64 id) {
        (m_runs == 1 ? m_first : m_runs == 2 ? m_second : m_distilled) = id;
        // After the job runner has finished this job, so that the next one can start.
        QTimer::singleShot(0, this, [this] { m_runs < kRuns ? runNext() : renderAll(); });
    });
    connect(m_window.jobRunner(), &rs::ui::JobRunner::failed, this,
            [this](const QString& message) { finish(false, message); });
}

void ViewRenderer::runNext() {
    rs::ui::RunPanel* panel = m_window.runPanel();
    panel->setCalibText(m_calib);
    panel->setEvalText(m_eval);
    panel->setCalibTokens(0);
    panel->setRanks(QStringLiteral("4, 8, 16"));
    panel->compressionForm()->setSerialized(m_runs == 0 ? QStringLiteral("rtn:bits=3,group=32")
                                                        : QStringLiteral("rtn:bits=2,group=32"));
    if (m_runs == 2) {
        // Lillama at a 20 % parameter reduction, short enough for a tour.
        panel->setJob(rs::ui::RunPanel::Job::LowRank);
        panel->setCalibTokens(4096);
        rs::ui::LowRankOptions* options = panel->lowRankOptions();
        options->methodForm()->setSerialized(QStringLiteral("lillama:steps=40,batch=4"));
        options->setSizes(rs::ui::LowRankOptions::Sizes::Reductions);
        options->setReductions(QStringLiteral("20"));
    }
    ++m_runs;
    std::printf("render: run %d…\n", m_runs);
    std::fflush(stdout);
    if (!m_window.runCompression())
        finish(false, QStringLiteral("the run did not start"));
}

bool ViewRenderer::save(QWidget* widget, const QString& name) {
    // The main window at every screen size people use; dialogs at their own size.
    const QList<QSize> sizes = widget == &m_window ? kWindowSizes : QList<QSize>{QSize()};
    for (const QSize& size : sizes) {
        if (size.isValid())
            widget->resize(size);
        settle();
        const QString suffix = size.isValid()
                                   ? QStringLiteral("-%1x%2").arg(size.width()).arg(size.height())
                                   : QString();
        const QString path = QDir(m_dir).filePath(name + suffix + QStringLiteral(".png"));
        const QString error = rs::ui::PlotExport::renderWidget(widget, path);
        if (!error.isEmpty()) {
            finish(false, error);
            return false;
        }
        std::printf("render: %s\n", qPrintable(path));
    }
    return true;
}

void ViewRenderer::renderAll() {
    m_window.openExperiment(m_first);
    // Two layers of different shapes overlaid: the attention input of block 0 and a down_proj.
    m_window.selectLayers({QStringLiteral("model.layers.0.self_attn.q_proj"),
                           QStringLiteral("model.layers.3.mlp.down_proj")});
    QTabWidget* views = m_window.views();
    views->setCurrentWidget(m_window.spectrumView());
    if (!save(&m_window, QStringLiteral("01-spectra")))
        return;
    m_window.selectLayers({QStringLiteral("model.layers.3.mlp.down_proj")});
    views->setCurrentWidget(m_window.curveView());
    if (!save(&m_window, QStringLiteral("02-curves")))
        return;
    views->setCurrentWidget(m_window.layerMetricsView());
    if (!save(&m_window, QStringLiteral("02b-layer-metrics")))
        return;
    views->setCurrentWidget(m_window.budgetView());
    // A drag of the budget slider: the plans follow.
    QSlider* slider = m_window.budgetView()->slider();
    slider->setValue(slider->value() + 60);
    if (!save(&m_window, QStringLiteral("03-budget")))
        return;
    views->setCurrentWidget(m_window.tradeoffView());
    m_window.tradeoffView()->setMetric(rs::ui::TradeoffView::Metric::Perplexity);
    if (!save(&m_window, QStringLiteral("04-tradeoffs")))
        return;
    views->setCurrentWidget(m_window.experimentsView());
    if (!save(&m_window, QStringLiteral("05-experiments")))
        return;
    try {
        rs::ExperimentStore::Options options;
        options.readOnly = true;
        auto store = rs::ExperimentStore::open(m_window.databasePath(), options);
        // All three runs: the two compressions and the Lillama run.
        const std::vector<int64_t> ids{m_first, m_second, m_distilled};
        rs::ui::CompareDialog compare(rs::compareExperiments(*store, ids));
        std::vector<std::vector<rs::LayerRecord>> layers;
        for (const int64_t id : ids)
            layers.push_back(store->layers(id));
        compare.setLayers(std::move(layers));
        compare.resize(1000, 900);
        compare.show();
        if (!save(&compare, QStringLiteral("06-compare")))
            return;
    } catch (const std::exception& e) {
        finish(false, QString::fromUtf8(e.what()));
        return;
    }
    rs::ui::PreferencesDialog preferences(QStringLiteral("rankscope.db"));
    preferences.show();
    if (!save(&preferences, QStringLiteral("07-preferences")))
        return;
    // The Lillama run (the run panel still shows its low-rank job): every block, then one.
    m_window.openExperiment(m_distilled);
    views->setCurrentWidget(m_window.distillationView());
    if (!save(&m_window, QStringLiteral("08-distillation")))
        return;
    m_window.distillationView()->showBlock(2);
    if (!save(&m_window, QStringLiteral("09-distillation-block")))
        return;
    // Its curves: weight SVD against the data-aware optimum of the factors.
    views->setCurrentWidget(m_window.curveView());
    if (!save(&m_window, QStringLiteral("10-curves-lowrank")))
        return;
    finish(true);
}

void ViewRenderer::finish(bool ok, const QString& message) {
    if (!message.isEmpty())
        std::fprintf(stderr, "render: %s\n", qPrintable(message));
    QCoreApplication::exit(ok ? 0 : 1);
}
