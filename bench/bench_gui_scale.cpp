// The workbench on a large checkpoint: how long opening takes, how long the GUI thread is ever
// blocked, how soon a cancelled compression stops, and the peak memory, with screenshots of the
// window after opening, while the run streams and after the cancel.
//
// usage: bench_gui_scale MODEL_DIR OUT_DIR [--calib-tokens N] [--cancel-after-blocks N]
// (QT_QPA_PLATFORM=offscreen needs no display.)
#include "jobrunner.h"
#include "mainwindow.h"
#include "pipeline/compress_job.h"
#include "pipeline/session.h"
#include "runpanel.h"
#include "stall_watchdog.h"
#include "util/memory.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QPushButton>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

constexpr int kStepTimeoutMs = 3600 * 1000;

// Runs the event loop until `done` holds (checked every 10 ms); false on timeout.
bool waitFor(const std::function<bool()>& done, int timeoutMs = kStepTimeoutMs) {
    QElapsedTimer clock;
    clock.start();
    while (!done()) {
        if (clock.elapsed() > timeoutMs)
            return false;
        QEventLoop loop;
        QTimer::singleShot(10, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

void screenshot(rs::ui::MainWindow& window, const QString& dir, const char* name) {
    const QString file = dir + QStringLiteral("/") + QLatin1String(name) + QStringLiteral(".png");
    if (window.grab().save(file))
        std::printf("  screenshot %s\n", qPrintable(file));
}

int fail(const char* what) {
    std::fprintf(stderr, "bench_gui_scale: %s\n", what);
    return 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3)
        return fail("usage: bench_gui_scale MODEL_DIR OUT_DIR [--calib-tokens N] "
                    "[--cancel-after-blocks N]");
    int calibTokens = 4096;
    qint64 cancelAfterBlocks = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string option = argv[i];
        if (option == "--calib-tokens")
            calibTokens = std::atoi(argv[i + 1]);
        else if (option == "--cancel-after-blocks")
            cancelAfterBlocks = std::atoll(argv[i + 1]);
        else
            return fail("unknown option");
    }
    rs::initializeRuntime();
    QApplication app(argc, argv);
    QStandardPaths::setTestModeEnabled(true); // throwaway settings
    QTemporaryDir scratch;
    const QString outDir = QString::fromLocal8Bit(argv[2]);

    rs::ui::MainWindow window;
    window.setDatabasePath(scratch.filePath(QStringLiteral("bench.db")).toStdString());
    window.resize(1280, 720);
    window.show();
    rs::test::StallWatchdog watchdog;
    rs::ui::JobRunner* jobs = window.jobRunner();
    QString lastStage;
    qint64 lastDone = 0;
    QObject::connect(jobs, &rs::ui::JobRunner::progress,
                     [&](const QString& stage, qint64 done, qint64, const QString&) {
                         lastStage = stage;
                         lastDone = done;
                     });
    bool cancelled = false;
    QObject::connect(jobs, &rs::ui::JobRunner::cancelled, [&] { cancelled = true; });
    QString failure;
    QObject::connect(jobs, &rs::ui::JobRunner::failed, [&](const QString& m) { failure = m; });

    std::printf("bench_gui_scale: %s\n", argv[1]);
    QElapsedTimer clock;
    clock.start();
    if (!window.openModel(QString::fromLocal8Bit(argv[1])))
        return fail("the model did not open");
    if (!waitFor([&] { return !jobs->isRunning(); }) || !failure.isEmpty())
        return fail(failure.isEmpty() ? "opening timed out" : qPrintable(failure));
    std::printf("open: %.2f s until the model panel and layer table show, GUI thread blocked at "
                "most %lld ms\n",
                clock.elapsed() / 1000.0, watchdog.takeLongestMs());
    screenshot(window, outDir, "opened");

    rs::ui::RunPanel* panel = window.runPanel();
    QString problem;
    std::optional<rs::CompressRequest> request = panel->request(&problem);
    if (!request) {
        panel->setCalibText(QStringLiteral(RANKSCOPE_SHARED_DATA "/text/tinystories/calib.txt"));
        request = panel->request(&problem);
    }
    if (!request)
        return fail(qPrintable(problem));
    request->inputs.calibText = RANKSCOPE_SHARED_DATA "/text/tinystories/calib.txt";
    request->inputs.calibTokens = calibTokens;
    request->compression =
        rs::MethodConfig::parse("rtn:bits=4,group=128", rs::MethodKind::Compression);
    request->compensations = {rs::MethodConfig::parse("eora", rs::MethodKind::Compensation)};
    request->ranks = {64};
    panel->setRequest(*request);

    clock.restart();
    if (!window.runCompression())
        return fail("the run did not start");
    const bool reached = waitFor([&] {
        return !failure.isEmpty() || !jobs->isRunning() ||
               (lastStage == QStringLiteral("compress") && lastDone >= cancelAfterBlocks);
    });
    if (!reached || !failure.isEmpty() || !jobs->isRunning())
        return fail(failure.isEmpty() ? "the run ended before the cancel" : qPrintable(failure));
    std::printf("run: %lld block(s) calibrated and compressed in %.1f s (%d calibration tokens), "
                "GUI thread blocked at most %lld ms\n",
                lastDone, clock.elapsed() / 1000.0, calibTokens, watchdog.takeLongestMs());
    screenshot(window, outDir, "running");

    clock.restart();
    panel->cancelButton()->click();
    if (!waitFor([&] { return cancelled && !jobs->isRunning(); }, 60000))
        return fail("the cancel did not take effect within a minute");
    std::printf("cancel: took effect after %lld ms (stage '%s')\n", clock.elapsed(),
                qPrintable(lastStage));
    screenshot(window, outDir, "cancelled");
    std::printf("memory: peak %.2f GiB resident\n", rs::peakResidentBytes() / double(1 << 30));
    return 0;
}
