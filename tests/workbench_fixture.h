#pragma once

// The workbench on the real stories260K model, shared by the workbench suites
// (tst_workbench*.cpp): a window recording into a store in a temporary folder, with the model open,
// and a helper that runs the run panel's job and waits for it.

#include "jobrunner.h"
#include "mainwindow.h"
#include "runpanel.h"
#include "stall_watchdog.h"
#include "testdata.h"

#include <QCoreApplication>
#include <QObject>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <memory>
#include <string>

namespace rs::test {

inline constexpr int kJobTimeoutMs = 180000;
// The GUI thread must never be blocked longer than this while a job runs.
inline constexpr qint64 kMaxStallMs = 100;
// Small calibration budget: the flow, not the statistics, is under test here.
inline constexpr int kCalibTokens = 2048;

inline QString dataFile(const std::string& relative) {
    return QString::fromStdString(dataPath(relative).string());
}

class WorkbenchFixture : public QObject {
protected:
    // Fresh settings under `application`, the window shown and the demo model opened. Call from
    // initTestCase() and check QTest::currentTestFailed() after it.
    void openWorkbench(const QString& application) {
        QStandardPaths::setTestModeEnabled(true);
        QCoreApplication::setOrganizationName(QStringLiteral("RankScopeTest"));
        QCoreApplication::setApplicationName(application);
        QSettings().clear();
        QVERIFY(m_dir.isValid());
        m_window = std::make_unique<rs::ui::MainWindow>();
        m_window->setDatabasePath(
            std::filesystem::path(m_dir.filePath(QStringLiteral("x.db")).toStdString()));
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
        QVERIFY(!m_window->runPanel()->runButton()->isEnabled()); // no model yet
        QSignalSpy finished(m_window->jobRunner(), &rs::ui::JobRunner::finished);
        QVERIFY(m_window->openModel(QString::fromStdString(stories260K().string())));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kJobTimeoutMs);
    }

    // Starts the run panel's request and waits for the job's end; returns the experiment id
    // (0 when it did not finish) and the longest GUI stall seen meanwhile.
    qint64 runAndWait(qint64* longestStallMs = nullptr) {
        QSignalSpy done(m_window.get(), &rs::ui::MainWindow::compressionFinished);
        QSignalSpy failed(m_window->jobRunner(), &rs::ui::JobRunner::failed);
        StallWatchdog watchdog;
        if (!m_window->runCompression())
            return 0;
        if (!QTest::qWaitFor([&] { return done.count() + failed.count() > 0; }, kJobTimeoutMs))
            return 0;
        if (longestStallMs)
            *longestStallMs = watchdog.longestMs();
        return done.count() == 1 ? done.first().first().toLongLong() : 0;
    }

    QTemporaryDir m_dir;
    std::unique_ptr<rs::ui::MainWindow> m_window;
};

} // namespace rs::test
