#pragma once

#include "testdata.h"

#include <QFile>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

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

// A file's text, empty when it cannot be read.
inline QString readText(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
}

// Points the store and the cache of every run at HOME, never at the user's own.
inline void useHome(const QTemporaryDir& home) {
    qputenv("RANKSCOPE_DB", home.filePath("rankscope.db").toUtf8());
    qputenv("RANKSCOPE_CACHE", home.filePath("cache").toUtf8());
}

} // namespace rs::test
