// The jobs besides compress and eval spread over several processes on loopback: LoRD (each
// linear fitted on one rank), Lillama (windows shared, gradients summed), and the commands rank 0
// drives from its store (plan with measured sensitivities and --apply, tradeoff), each against
// one process on stories260K.
#include "rank_launch.h"

#include <QFile>
#include <QProcessEnvironment>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>

namespace {

using namespace rs::test;

// Lillama's trained factors: every rank takes the step one process takes, but the gradient of a
// batch is summed from each rank's share in another order (1e-7 relative). Block 0's factors come
// out equal to 1e-7; from block 1 on, the student path runs through the blocks already trained,
// and 30 AdamW steps per block carry the difference on. Measured on stories260K's five blocks:
// perplexity 6.7e-4 relative, the layers' errors 2.4e-3.
constexpr Tolerances kTrained{2e-3, 1e-2};

QStringList calibration() {
    return {"--calib", dataArg("text/tinystories/calib.txt"), "--calib-tokens", "4096"};
}
QStringList evaluation(const QString& windows) {
    return {"--eval", dataArg("text/tinystories/eval.txt"), "--max-windows", windows};
}

// Numbers of two CSV texts agree (relative tolerance), other cells exactly.
void compareCsv(const QString& a, const QString& b) {
    const QStringList rowsA = a.split('\n'), rowsB = b.split('\n');
    QCOMPARE(rowsA.size(), rowsB.size());
    for (int i = 0; i < rowsA.size(); ++i) {
        const QStringList cellsA = rowsA[i].split(','), cellsB = rowsB[i].split(',');
        QCOMPARE(cellsA.size(), cellsB.size());
        for (int c = 0; c < cellsA.size(); ++c) {
            bool numberA = false, numberB = false;
            const double x = cellsA[c].toDouble(&numberA), y = cellsB[c].toDouble(&numberB);
            if (numberA && numberB)
                QVERIFY2(close(x, y, kPerplexityRelTol, 1e-12),
                         qPrintable(rowsA[i] + " vs " + rowsB[i]));
            else
                QCOMPARE(cellsA[c], cellsB[c]);
        }
    }
}

} // namespace

Q_DECLARE_METATYPE(rs::test::Tolerances)

class TestDistributedJobs : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void lowRankEqualsOneProcess_data();
    void lowRankEqualsOneProcess();
    void sensitivityPlanEqualsOneProcess();
    void tradeoffEqualsOneProcess();
    void lowRankExportIsWrittenOnce();
    void followersStopWithRankZerosReason();

private:
    QProcessEnvironment environment() const;
    QTemporaryDir m_dir;
};

void TestDistributedJobs::initTestCase() {
    QVERIFY(m_dir.isValid());
}

QProcessEnvironment TestDistributedJobs::environment() const {
    return launchEnvironment(m_dir.filePath("cache"));
}

void TestDistributedJobs::lowRankEqualsOneProcess_data() {
    QTest::addColumn<int>("world");
    QTest::addColumn<QStringList>("method");
    QTest::addColumn<Tolerances>("tolerances");
    // The optimal allocation's first pass hands the error curves around as well as the fits.
    QTest::newRow("lord-data, optimal allocation, 2 processes")
        << 2 << QStringList{"--method", "lord-data", "--allocation", "optimal"} << Tolerances{};
    QTest::newRow("lord-weight, 3 processes")
        << 3 << QStringList{"--method", "lord-weight", "--reduction", "20,40"} << Tolerances{};
    QTest::newRow("lillama, 2 processes")
        << 2 << QStringList{"--method", "lillama", "--steps", "30", "--batch", "4"} << kTrained;
}

void TestDistributedJobs::lowRankEqualsOneProcess() {
    QFETCH(int, world);
    QFETCH(QStringList, method);
    QFETCH(Tolerances, tolerances);
    const QString tag = QString::fromUtf8(QTest::currentDataTag()).replace(' ', '_');
    const QString one = m_dir.filePath(tag + "-one.db"), many = m_dir.filePath(tag + "-many.db");
    const QStringList args = QStringList{"lowrank", dataArg("models/stories260K"), "--baseline"} +
                             calibration() + evaluation("8") + method;
    const CliRun single = runOneProcess(args + QStringList{"--db", one}, environment());
    QVERIFY2(single.exitCode == 0, qPrintable(single.err));
    const Launch launch = runRanks(world, args + QStringList{"--db", many}, environment());
    for (int r = 0; r < world; ++r)
        QVERIFY2(launch.exitCodes[size_t(r)] == 0, qPrintable(launch.errors[size_t(r)]));
    QVERIFY(launch.leaderOut.contains("recorded as experiment 1"));
    QVERIFY(launch.othersSilent);
    compareExperiments(one, 1, many, 1, tolerances);
}

void TestDistributedJobs::sensitivityPlanEqualsOneProcess() {
    // A recorded compression to plan from, then the plan with measured sensitivities (one
    // compression per layer) and --apply, in one process and in two, each on its own copy.
    const QString base = m_dir.filePath("plan-base.db");
    const CliRun compress = runOneProcess(QStringList{"compress", dataArg("models/stories260K"),
                                                      "--method", "rtn:bits=3,group=32", "--comp",
                                                      "eora", "--ranks", "4", "--db", base} +
                                              calibration() + evaluation("4"),
                                          environment());
    QVERIFY2(compress.exitCode == 0, qPrintable(compress.err));
    const QString one = m_dir.filePath("plan-one.db"), many = m_dir.filePath("plan-many.db");
    QVERIFY(QFile::copy(base, one) && QFile::copy(base, many));
    const QStringList plan = {"plan",      "1",           "--budget-rank",         "4",
                              "--weights", "sensitivity", "--sensitivity-windows", "4",
                              "--apply"};
    const CliRun single = runOneProcess(
        plan + QStringList{"--db", one, "--json", m_dir.filePath("plan-one.json")}, environment());
    QVERIFY2(single.exitCode == 0, qPrintable(single.err));
    const Launch launch =
        runRanks(2, plan + QStringList{"--db", many, "--json", m_dir.filePath("plan-many.json")},
                 environment());
    QVERIFY2(launch.exitCodes == std::vector<int>({0, 0}),
             qPrintable(launch.errors.front() + launch.errors.back()));
    QVERIFY2(launch.leaderOut.contains("applied:"), qPrintable(launch.leaderOut));
    QVERIFY(launch.othersSilent);
    QVERIFY(launch.errors.front().contains("distributed: 2 processes"));

    const QJsonObject a = readJson(m_dir.filePath("plan-one.json"));
    const QJsonObject b = readJson(m_dir.filePath("plan-many.json"));
    QVERIFY(!a["ranks"].toObject().isEmpty());
    QCOMPARE(a["ranks"].toObject(), b["ranks"].toObject());
    QVERIFY(close(a["perplexity"].toDouble(), b["perplexity"].toDouble(), kPerplexityRelTol, 0));
    compareExperiments(one, 2, many, 2);
}

void TestDistributedJobs::tradeoffEqualsOneProcess() {
    const QStringList args = QStringList{"tradeoff",   dataArg("models/stories260K"),
                                         "--bits",     "3,4",
                                         "--groups",   "32",
                                         "--budgets",  "r2,r4",
                                         "--evaluate", "2"} +
                             calibration() + evaluation("4");
    const QString one = m_dir.filePath("tradeoff-one"), many = m_dir.filePath("tradeoff-many");
    const CliRun single = runOneProcess(
        args + QStringList{"--db", one + ".db", "--csv", one + ".csv"}, environment());
    QVERIFY2(single.exitCode == 0, qPrintable(single.err));
    const Launch launch = runRanks(
        2, args + QStringList{"--db", many + ".db", "--csv", many + ".csv"}, environment());
    QVERIFY2(launch.exitCodes == std::vector<int>({0, 0}),
             qPrintable(launch.errors.front() + launch.errors.back()));
    QVERIFY(launch.othersSilent);
    const QString csv = readText(one + ".csv");
    QVERIFY(csv.count('\n') == 5); // header and 2 bit widths x 2 budgets
    compareCsv(csv, readText(many + ".csv"));
    // The evaluated front points, recorded with their plans, agree experiment by experiment.
    const auto store = rs::ExperimentStore::open((one + ".db").toStdString());
    int compared = 0;
    for (const auto& item : store->listExperiments())
        if (!store->evaluations(item.experiment.id).empty()) {
            compareExperiments(one + ".db", item.experiment.id, many + ".db", item.experiment.id);
            ++compared;
        }
    QVERIFY(compared >= 1);
}

void TestDistributedJobs::lowRankExportIsWrittenOnce() {
    // Rank 0 alone writes the factorized export and reads it back; the others write nothing.
    const QString target = m_dir.filePath("factorized");
    const QStringList args = QStringList{"lowrank",    dataArg("models/stories260K"),
                                         "--method",   "lord-data",
                                         "--rank",     "8",
                                         "--no-store", "--export",
                                         target} +
                             calibration() + evaluation("4");
    const Launch launch = runRanks(2, args, environment());
    QVERIFY2(launch.exitCodes == std::vector<int>({0, 0}),
             qPrintable(launch.errors.front() + launch.errors.back()));
    QVERIFY2(launch.leaderOut.contains("the export read back: perplexity"),
             qPrintable(launch.leaderOut));
    QVERIFY(QFile::exists(target + "/config.json"));
    // What rank 0 read back is what one process reads from the files.
    const QString json = m_dir.filePath("factorized-eval.json");
    const CliRun single =
        runOneProcess(QStringList{"eval", target, "--text", dataArg("text/tinystories/eval.txt"),
                                  "--max-windows", "4", "--json", json},
                      environment());
    QVERIFY2(single.exitCode == 0, qPrintable(single.err));
    const QString marker = "the export read back: perplexity ";
    const int at = launch.leaderOut.indexOf(marker) + marker.size();
    const double readBack = launch.leaderOut.mid(at).section('\n', 0, 0).toDouble();
    QVERIFY(std::abs(readBack - readJson(json)["perplexity"].toDouble()) < 1e-4);
}

void TestDistributedJobs::followersStopWithRankZerosReason() {
    // Rank 0 fails before it announces any compression (there is no store to plan from): the
    // rank that follows it must not wait for the timeout, and must say why.
    const QString missing = m_dir.filePath("missing.db");
    const QStringList plan = {"plan",      "99",          "--budget-rank", "4",
                              "--weights", "sensitivity", "--db",          missing};
    const Launch launch = runRanks(2, plan, environment());
    QCOMPARE(launch.exitCodes, std::vector<int>({1, 1}));
    const QString reason = missing + ": no experiment store here";
    QVERIFY2(launch.errors.front().contains(reason), qPrintable(launch.errors.front()));
    QVERIFY2(launch.errors.back().contains("rank 0") && launch.errors.back().contains(reason),
             qPrintable(launch.errors.back()));
    QVERIFY(!QFile::exists(missing));
}

QTEST_GUILESS_MAIN(TestDistributedJobs)
#include "tst_distributed_jobs.moc"
