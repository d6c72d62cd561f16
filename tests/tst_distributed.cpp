// Jobs spread over several processes on loopback, launched as torchrun, Slurm or a script would
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): the same experiment as one process,
// and failures (a killed rank, mismatched inputs, a partial environment) that stop every rank
// with a clear message and leave nothing half-written.
#include "rank_launch.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <csignal>
#include <memory>
#include <vector>

namespace {

using namespace rs::test;

// Rank 0's standard error up to its first compression progress (or two minutes): the job has
// joined, recorded its experiment and started on the blocks.
QString waitForCompression(QProcess& leader) {
    QString err;
    QElapsedTimer clock;
    clock.start();
    while (!err.contains("[compress]") && clock.elapsed() < 120000) {
        leader.waitForReadyRead(200);
        err += QString::fromUtf8(leader.readAllStandardError());
    }
    return err;
}

} // namespace

class TestDistributed : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void compressionEqualsOneProcess_data();
    void compressionEqualsOneProcess();
    void cachedStatisticsReachEveryRank();
    void evaluationSharesWindows();
    void killedRankFailsTheRun();
    void hungRankFailsAfterTheTimeout();
    void mismatchedInputsAreRefused();
    void partialLaunchIsRefused();
    void torchrunLaunches();

private:
    QStringList compressArgs(const QString& db) const;
    QProcessEnvironment environment() const;
    QTemporaryDir m_dir;
};

void TestDistributed::initTestCase() {
    QVERIFY(m_dir.isValid());
}

QProcessEnvironment TestDistributed::environment() const {
    return launchEnvironment(m_dir.filePath("cache"));
}

QStringList TestDistributed::compressArgs(const QString& db) const {
    // GPTQ uses the statistics too, so every way they could differ shows in the perplexities.
    return {"compress",       dataArg("models/stories260K"),
            "--calib",        dataArg("text/tinystories/calib.txt"),
            "--eval",         dataArg("text/tinystories/eval.txt"),
            "--method",       "gptq:bits=3,group=32",
            "--comp",         "none,svd,eora",
            "--ranks",        "4,8",
            "--calib-tokens", "4096",
            "--max-windows",  "12",
            "--baseline",     "--no-cache",
            "--db",           db};
}

void TestDistributed::compressionEqualsOneProcess_data() {
    QTest::addColumn<int>("world");
    QTest::addColumn<QString>("mode");
    QTest::newRow("2 processes") << 2 << "parallel";
    QTest::newRow("3 processes") << 3 << "parallel";
    // Each rank passes its windows through the block as compressed and compensated, which needs
    // every rank's W_c and factors.
    QTest::newRow("2 processes, sequential calibration") << 2 << "sequential";
}

void TestDistributed::compressionEqualsOneProcess() {
    QFETCH(int, world);
    QFETCH(QString, mode);
    const QString one = m_dir.filePath(QString("one-%1-%2.db").arg(world).arg(mode));
    const QString many = m_dir.filePath(QString("many-%1-%2.db").arg(world).arg(mode));
    const QStringList args = QStringList() << "--calib-mode" << mode;
    QCOMPARE(runOneProcess(compressArgs(one) + args, environment()).exitCode, 0);

    const Launch launch = runRanks(world, compressArgs(many) + args, environment());
    for (int r = 0; r < world; ++r)
        QVERIFY2(launch.exitCodes[size_t(r)] == 0, qPrintable(launch.errors[size_t(r)]));
    QVERIFY(launch.leaderOut.contains("recorded as experiment 1"));
    QVERIFY(launch.errors.front().contains(QString("distributed: %1 processes").arg(world)));
    QVERIFY(launch.othersSilent); // rank 0 alone prints and records
    compareExperiments(one, many);
}

void TestDistributed::cachedStatisticsReachEveryRank() {
    // The first run saves the statistics, the second reads them on rank 0 and sends them on.
    QStringList args = compressArgs(m_dir.filePath("cached.db"));
    args.removeAll("--no-cache");
    args << "--include"
         << "mlp";
    const Launch first = runRanks(2, args, environment());
    QVERIFY2(first.exitCodes == std::vector<int>({0, 0}), qPrintable(first.errors.front()));
    const Launch second = runRanks(2, args, environment());
    QVERIFY2(second.exitCodes == std::vector<int>({0, 0}), qPrintable(second.errors.back()));
    QVERIFY(second.leaderOut.contains("calibration statistics reused"));
    const auto store = rs::ExperimentStore::open(m_dir.filePath("cached.db").toStdString());
    const auto a = store->evaluations(1), b = store->evaluations(2);
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        QVERIFY(close(a[i].perplexity, b[i].perplexity, kPerplexityRelTol, 0.0));
}

void TestDistributed::evaluationSharesWindows() {
    const QStringList args = {"eval",          dataArg("models/stories260K"),
                              "--text",        dataArg("text/tinystories/eval.txt"),
                              "--max-windows", "7"};
    const auto single =
        rs::test::runCli(QStringList(args) << "--json" << m_dir.filePath("eval-1.json"));
    QCOMPARE(single.exitCode, 0);
    const Launch launch =
        runRanks(3, QStringList(args) << "--json" << m_dir.filePath("eval-3.json"), environment());
    QVERIFY2(launch.exitCodes == std::vector<int>({0, 0, 0}), qPrintable(launch.errors.front()));
    const QJsonObject a = readJson(m_dir.filePath("eval-1.json"));
    const QJsonObject b = readJson(m_dir.filePath("eval-3.json"));
    QCOMPARE(b["windows"].toInt(), 7);
    QCOMPARE(a["predicted_tokens"].toInt(), b["predicted_tokens"].toInt());
    QVERIFY(close(a["perplexity"].toDouble(), b["perplexity"].toDouble(), kPerplexityRelTol, 0));
}

void TestDistributed::killedRankFailsTheRun() {
    // Enough variants that the run is still going when rank 1 is killed once it is under way.
    const QString db = m_dir.filePath("killed.db");
    QStringList args = compressArgs(db);
    args[args.indexOf("4,8")] = "1,2,3,4,5,6,7,8";
    args.removeAll("--no-cache");
    args << "--json" << m_dir.filePath("killed.json");
    QProcessEnvironment env = environment();
    env.insert("RANKSCOPE_CACHE", m_dir.filePath("killed-cache"));
    const int port = nextPort();
    auto leader = startRank(0, 2, port, args, env);
    auto victim = startRank(1, 2, port, args, env);
    QString leaderErr = waitForCompression(*leader);
    QVERIFY2(leaderErr.contains("[compress]"), qPrintable(leaderErr));
    QElapsedTimer clock;
    QVERIFY(leader->state() == QProcess::Running);
    victim->kill(); // SIGKILL: no chance to say goodbye
    QVERIFY(victim->waitForFinished(10000));
    clock.start();
    QVERIFY(leader->waitForFinished(60000));
    QVERIFY2(clock.elapsed() < 35000, "rank 0 did not stop within the timeout");
    leaderErr += QString::fromUtf8(leader->readAllStandardError());
    QCOMPARE(leader->exitCode(), 1);
    QVERIFY2(leaderErr.contains("distributed job (rank 0 of 2)"), qPrintable(leaderErr));

    // Recorded as failed with the reason; no JSON, no statistics that look complete.
    const auto store = rs::ExperimentStore::open(db.toStdString());
    const auto record = store->experiment(1);
    QVERIFY(record);
    QCOMPARE(int(record->status), int(rs::ExperimentStatus::Failed));
    QVERIFY2(QString::fromStdString(record->error).contains("distributed job"),
             record->error.c_str());
    QVERIFY(!QFile::exists(m_dir.filePath("killed.json")));
    QVERIFY(store->artefacts().empty());
    const QDir cache(m_dir.filePath("killed-cache"));
    for (const QString& entry : cache.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        QVERIFY(!QFile::exists(cache.filePath(entry + "/manifest.json")));
}

void TestDistributed::hungRankFailsAfterTheTimeout() {
    // Rank 1 stops answering (SIGSTOP) with its connections open: only the timeout can tell.
    QStringList args = compressArgs(m_dir.filePath("hung.db"));
    args[args.indexOf("4,8")] = "1,2,3,4,5,6,7,8";
    QProcessEnvironment env = environment();
    env.insert("RANKSCOPE_DIST_TIMEOUT", "5");
    const int port = nextPort();
    auto leader = startRank(0, 2, port, args, env);
    auto hung = startRank(1, 2, port, args, env);
    QString leaderErr = waitForCompression(*leader);
    QVERIFY2(leaderErr.contains("[compress]"), qPrintable(leaderErr));
    QElapsedTimer clock;
    QCOMPARE(::kill(pid_t(hung->processId()), SIGSTOP), 0);
    clock.start();
    const bool stopped = leader->waitForFinished(60000);
    const qint64 waited = clock.elapsed();
    ::kill(pid_t(hung->processId()), SIGKILL);
    QVERIFY(hung->waitForFinished(10000));
    QVERIFY(stopped);
    QVERIFY2(waited >= 4000 && waited < 30000, qPrintable(QString::number(waited)));
    leaderErr += QString::fromUtf8(leader->readAllStandardError());
    QCOMPARE(leader->exitCode(), 1);
    QVERIFY2(leaderErr.contains("did not answer within 5 s"), qPrintable(leaderErr));
    const auto store = rs::ExperimentStore::open(m_dir.filePath("hung.db").toStdString());
    QCOMPARE(int(store->experiment(1)->status), int(rs::ExperimentStatus::Failed));
}

void TestDistributed::mismatchedInputsAreRefused() {
    const QString db = m_dir.filePath("mismatch.db");
    QStringList other = compressArgs(db);
    other[other.indexOf(dataArg("text/tinystories/eval.txt"))] =
        dataArg("text/tinystories/sample.txt");
    const Launch launch = runRanks(2, {}, environment(), {compressArgs(db), other});
    QCOMPARE(launch.exitCodes, std::vector<int>({1, 1}));
    for (const QString& err : launch.errors)
        QVERIFY2(err.contains("the contents of the texts differs between ranks: rank(s) 1"),
                 qPrintable(err));
}

void TestDistributed::partialLaunchIsRefused() {
    QProcess process;
    QProcessEnvironment env = environment();
    env.insert("RANK", "0");
    env.insert("WORLD_SIZE", "2");
    process.setProcessEnvironment(env);
    process.start(
        QStringLiteral(RANKSCOPE_CLI_PATH),
        {"eval", dataArg("models/stories260K"), "--text", dataArg("text/tinystories/eval.txt")});
    QVERIFY(process.waitForFinished(60000));
    QCOMPARE(process.exitCode(), 1);
    const QString err = QString::fromUtf8(process.readAllStandardError());
    QVERIFY2(err.contains("but not LOCAL_RANK MASTER_ADDR MASTER_PORT"), qPrintable(err));

    // Commands that do not spread their work are refused under a launcher.
    env.insert("LOCAL_RANK", "0");
    env.insert("MASTER_ADDR", "127.0.0.1");
    env.insert("MASTER_PORT", QString::number(nextPort()));
    process.setProcessEnvironment(env);
    process.start(QStringLiteral(RANKSCOPE_CLI_PATH), {"info", dataArg("models/stories260K")});
    QVERIFY(process.waitForFinished(60000));
    QCOMPARE(process.exitCode(), 1);
    QVERIFY(QString::fromUtf8(process.readAllStandardError()).contains("does not run distributed"));
}

// The first Python of PATH and Debian's own that can import torch's launcher; empty when none.
QString pythonWithTorchrun() {
    for (const QString& python : {QString("python3"), QString("/usr/bin/python3")}) {
        QProcess probe;
        probe.start(python, {"-c", "import torch.distributed.run"});
        if (probe.waitForFinished(60000) && probe.exitStatus() == QProcess::NormalExit &&
            probe.exitCode() == 0)
            return python;
    }
    return {};
}

void TestDistributed::torchrunLaunches() {
    const QString python = pythonWithTorchrun();
    if (python.isEmpty())
        QSKIP("python3-torch is not installed: torchrun (python3 -m torch.distributed.run) "
              "cannot be tried");
    const QStringList args = {"eval",          dataArg("models/stories260K"),
                              "--text",        dataArg("text/tinystories/eval.txt"),
                              "--max-windows", "6"};
    const auto single =
        rs::test::runCli(QStringList(args) << "--json" << m_dir.filePath("t1.json"));
    QCOMPARE(single.exitCode, 0);
    // --redirects/--tee 1: Debian's torch 1.13 on Python 3.11 cannot parse their default "0".
    QProcess torchrun;
    torchrun.setProcessEnvironment(environment());
    torchrun.start(python,
                   QStringList{"-m", "torch.distributed.run", "--no_python", "--nproc_per_node",
                               "2", "--redirects", "1", "--tee", "1", "--master_port",
                               QString::number(nextPort()), RANKSCOPE_CLI_PATH}
                       << args << "--json" << m_dir.filePath("t2.json"));
    QVERIFY(torchrun.waitForFinished(300000));
    QVERIFY2(torchrun.exitCode() == 0, torchrun.readAllStandardError().constData());
    const QJsonObject a = readJson(m_dir.filePath("t1.json"));
    const QJsonObject b = readJson(m_dir.filePath("t2.json"));
    QCOMPARE(a["predicted_tokens"].toInt(), b["predicted_tokens"].toInt());
    QVERIFY(close(a["perplexity"].toDouble(), b["perplexity"].toDouble(), kPerplexityRelTol, 0));
}

QTEST_GUILESS_MAIN(TestDistributed)
#include "tst_distributed.moc"
