#pragma once

// Jobs spread over several processes on loopback for the tests, launched as torchrun, Slurm or a
// script would (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), and the comparison of
// what they recorded with what one process recorded.
#include "cli_run.h"
#include "store/experiment_store.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

namespace rs::test {

// Perplexities of N processes against one: only the summation order of the NLL differs.
constexpr double kPerplexityRelTol = 1e-6;
// Curves, errors and spectra, relative to E(0) or the largest eigenvalue: each rank runs the
// forward passes on fewer windows at a time, and float32 products of another batch shape round
// differently (1e-7 relative); the store keeps spectra in float32. The Gram matrices themselves
// are summed in float64, so only their order of summation adds to that.
constexpr double kCurveRelTol = 1e-6;

inline int nextPort() {
    static int offset = 0;
    return 20000 + int(QCoreApplication::applicationPid() % 20000) + (offset += 7) % 5000;
}

// The environment of a launch from the tests: no launch variables of its own, a cache of its
// own, and a timeout short enough for a test to see a failure.
inline QProcessEnvironment launchEnvironment(const QString& cacheDirectory) {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("RANKSCOPE_CACHE", cacheDirectory);
    env.insert("RANKSCOPE_DIST_TIMEOUT", "30");
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"})
        env.remove(name);
    return env;
}

// One rank of a job started by hand: the five launch variables and one thread per process.
inline std::unique_ptr<QProcess> startRank(int rank, int world, int port, const QStringList& args,
                                           const QProcessEnvironment& base) {
    QProcessEnvironment env = base;
    env.insert("RANK", QString::number(rank));
    env.insert("LOCAL_RANK", QString::number(rank));
    env.insert("WORLD_SIZE", QString::number(world));
    env.insert("MASTER_ADDR", "127.0.0.1");
    env.insert("MASTER_PORT", QString::number(port));
    env.insert("OMP_NUM_THREADS", "1");
    auto process = std::make_unique<QProcess>();
    process->setProcessEnvironment(env);
    process->start(QStringLiteral(RANKSCOPE_CLI_PATH), args);
    return process;
}

struct Launch {
    std::vector<std::unique_ptr<QProcess>> ranks;
    std::vector<int> exitCodes;
    std::vector<QString> errors;
    QString leaderOut;
    bool othersSilent = true; // no rank but 0 printed on standard output
};

inline Launch runRanks(int world, const QStringList& args, const QProcessEnvironment& env,
                       const std::vector<QStringList>& perRankArgs = {}) {
    Launch launch;
    const int port = nextPort();
    for (int r = 0; r < world; ++r)
        launch.ranks.push_back(
            startRank(r, world, port, perRankArgs.empty() ? args : perRankArgs[size_t(r)], env));
    for (auto& p : launch.ranks) {
        if (!p->waitForFinished(300000))
            p->kill();
        launch.exitCodes.push_back(p->exitStatus() == QProcess::NormalExit ? p->exitCode() : -1);
        launch.errors.push_back(QString::fromUtf8(p->readAllStandardError()));
    }
    launch.leaderOut = QString::fromUtf8(launch.ranks.front()->readAllStandardOutput());
    for (size_t r = 1; r < launch.ranks.size(); ++r)
        launch.othersSilent =
            launch.othersSilent && launch.ranks[r]->readAllStandardOutput().isEmpty();
    return launch;
}

// One process with one thread, as each rank has.
inline CliRun runOneProcess(const QStringList& args, const QProcessEnvironment& base) {
    QProcess process;
    QProcessEnvironment env = base;
    env.insert("OMP_NUM_THREADS", "1");
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(RANKSCOPE_CLI_PATH), args);
    if (!process.waitForFinished(300000))
        process.kill();
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

inline QJsonObject readJson(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(file.readAll()).object();
}

inline bool close(double a, double b, double relTol, double scale) {
    return std::abs(a - b) <= relTol * std::max({std::abs(a), std::abs(b), scale});
}

inline void compareVectors(const std::vector<double>& a, const std::vector<double>& b, double scale,
                           const QString& what, double relTol = kCurveRelTol) {
    QVERIFY2(a.size() == b.size(), qPrintable(what + ": sizes differ"));
    for (size_t i = 0; i < a.size(); ++i)
        QVERIFY2(close(a[i], b[i], relTol, scale), qPrintable(QString("%1[%2]: %3 vs %4")
                                                                  .arg(what)
                                                                  .arg(i)
                                                                  .arg(a[i], 0, 'g', 17)
                                                                  .arg(b[i], 0, 'g', 17)));
}

// How far two runs' results may differ, relative.
struct Tolerances {
    double perplexity = kPerplexityRelTol;
    double errorAfter = kCurveRelTol; // of the compensated or factored layers
};

// Experiment `idA` of database dbA and `idB` of dbB hold the same variants, perplexities, layers,
// ranks, errors, curves and spectra.
inline void compareExperiments(const QString& dbA, int64_t idA, const QString& dbB, int64_t idB,
                               const Tolerances& tolerances = {}) {
    const auto a = rs::ExperimentStore::open(dbA.toStdString());
    const auto b = rs::ExperimentStore::open(dbB.toStdString());
    QVERIFY(a->experiment(idA) && b->experiment(idB));
    QCOMPARE(int(a->experiment(idA)->status), int(rs::ExperimentStatus::Done));
    QCOMPARE(int(b->experiment(idB)->status), int(rs::ExperimentStatus::Done));

    const auto evalA = a->evaluations(idA), evalB = b->evaluations(idB);
    QCOMPARE(evalA.size(), evalB.size());
    QVERIFY(!evalA.empty());
    for (size_t i = 0; i < evalA.size(); ++i) {
        QCOMPARE(evalA[i].variant, evalB[i].variant);
        QCOMPARE(evalA[i].tokens, evalB[i].tokens);
        QVERIFY2(close(evalA[i].perplexity, evalB[i].perplexity, tolerances.perplexity, 0.0),
                 qPrintable(QString("perplexity %1 vs %2")
                                .arg(evalA[i].perplexity, 0, 'g', 12)
                                .arg(evalB[i].perplexity, 0, 'g', 12)));
    }
    const auto layersA = a->layers(idA), layersB = b->layers(idB);
    QCOMPARE(layersA.size(), layersB.size());
    QVERIFY(!layersA.empty());
    for (size_t i = 0; i < layersA.size(); ++i) {
        const rs::LayerRecord &la = layersA[i], &lb = layersB[i];
        const QString name = QString::fromStdString(la.name);
        QCOMPARE(la.name, lb.name);
        QCOMPARE(la.ranks, lb.ranks);
        QCOMPARE(la.discardedModes, lb.discardedModes);
        QVERIFY(!la.curveEora.empty());
        compareVectors(la.errorAfter, lb.errorAfter, 0.0, name + " error after",
                       tolerances.errorAfter);
        compareVectors(la.heldoutErrorAfter, lb.heldoutErrorAfter, 0.0, name + " held-out");
        compareVectors(la.curveEora, lb.curveEora, la.errorEnergy, name + " EoRA curve");
        compareVectors(la.curveSvd, lb.curveSvd, la.errorEnergy, name + " SVD curve");
        compareVectors(la.gramEigenvalues, lb.gramEigenvalues, la.gramEigenvalues.front(),
                       name + " eigenvalues of C");
    }
}

// The only experiment of each database.
inline void compareExperiments(const QString& dbA, const QString& dbB) {
    const auto a = rs::ExperimentStore::open(dbA.toStdString());
    const auto b = rs::ExperimentStore::open(dbB.toStdString());
    QCOMPARE(a->listExperiments().size(), size_t(1));
    QCOMPARE(b->listExperiments().size(), size_t(1));
    compareExperiments(dbA, a->listExperiments().front().experiment.id, dbB,
                       b->listExperiments().front().experiment.id);
}

} // namespace rs::test
