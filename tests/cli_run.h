#pragma once

#include "testdata.h"

#include <QProcess>
#include <QString>
#include <QStringList>

// Runs rankscope-cli (RANKSCOPE_CLI_PATH) as a user would, for the CLI tests.
namespace rs::test {

struct CliRun {
    int exitCode = -1; // -1: crashed or timed out
    QString out;
    QString err;
};

inline CliRun runCli(const QStringList& args, int timeoutMs = 120000) {
    QProcess process;
    process.start(QStringLiteral(RANKSCOPE_CLI_PATH), args);
    if (!process.waitForFinished(timeoutMs))
        process.kill();
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

inline QString dataArg(const std::string& relative) {
    return QString::fromStdString(dataPath(relative).string());
}

} // namespace rs::test
