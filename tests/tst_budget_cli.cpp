// rankscope-cli plan and tradeoff as a user runs them: tables with units, JSON and CSV, a plan
// applied as a new experiment, and clear refusals of bad budgets, overrides and contradictions.
#include "cli_run.h"
#include "testdata.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

namespace {

using Run = rs::test::CliRun;

Run runCli(const QStringList& args) {
    return rs::test::runCli(args, 1800000);
}

QString data(const std::string& relative) {
    return rs::test::dataArg(relative);
}

} // namespace

class TestBudgetCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void planPrintsRanksWithUnits();
    void planRefusesBadInput();
    void planApplyRecordsAnExperiment();
    void tradeoffPrintsTheFront();

private:
    QTemporaryDir m_home;
};

void TestBudgetCli::initTestCase() {
    QVERIFY(m_home.isValid());
    qputenv("RANKSCOPE_DB", m_home.filePath("rankscope.db").toUtf8());
    qputenv("RANKSCOPE_CACHE", m_home.filePath("cache").toUtf8());
    const Run run = runCli(
        {"compress", data("models/stories260K"), "--calib", data("text/tinystories/calib.txt"),
         "--eval", data("text/tinystories/eval.txt"), "--max-windows", "2", "--method",
         "rtn:bits=3,group=32", "--comp", "eora", "--rank", "4", "--calib-tokens", "2048"});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY(run.out.contains("recorded as experiment 1"));
}

void TestBudgetCli::planPrintsRanksWithUnits() {
    const QString json = m_home.filePath("plan.json");
    const Run run = runCli({"plan", "1", "--budget-rank", "4", "--align", "2", "--override",
                            "down_proj=8", "--exclude", "layers\\.0\\.self_attn\\.q_proj",
                            "--weights", "energy", "--json", json});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    // A uniform-rank budget is what uniform rank 4 spends under the same constraints.
    QVERIFY2(run.out.contains("budget r4 = "), qPrintable(run.out));
    QVERIFY(run.out.contains("% of 260,032 model params"));
    QVERIFY(run.out.contains("bits per weight over the compressed layers"));
    QVERIFY(run.out.contains("uniform rank"));
    QFile file(json);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QJsonObject plan = QJsonDocument::fromJson(file.readAll()).object();
    const QJsonObject ranks = plan["ranks"].toObject();
    QCOMPARE(ranks.size(), 35);
    QCOMPARE(ranks["model.layers.0.self_attn.q_proj"].toInt(), 0);
    qint64 parameters = 0;
    for (auto it = ranks.begin(); it != ranks.end(); ++it) {
        QCOMPARE(it.value().toInt() % 2, 0);
        if (it.key().endsWith("down_proj"))
            QCOMPARE(it.value().toInt(), 8);
        parameters +=
            it.value().toInt() * (it.key().contains("k_proj") || it.key().contains("v_proj") ? 96
                                  : it.key().contains("mlp")                                 ? 236
                                                                                             : 128);
    }
    QCOMPARE(qint64(plan["adapter_parameters"].toDouble()), parameters);
    // Uniform rank 4 without layer 0's q_proj and with every down_proj at 8.
    QCOMPARE(plan["budget_parameters"].toInt(), 23120 - 4 * 128 + 5 * 4 * 236);
    QVERIFY(parameters <= plan["budget_parameters"].toInt());
    // Every unit reaches the same planner.
    for (const QStringList& budget :
         {QStringList{"--budget-params", "20000"}, QStringList{"--budget-percent", "5"},
          QStringList{"--bpw", "4.5"}}) {
        const Run r = runCli(QStringList{"plan", "1", "--weights", "energy"} + budget);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    }
    // Half of the break-even rank: 64 x 64 -> 16, 32 x 64 -> 10, 172 x 64 -> 23.
    const Run half = runCli({"plan", "1", "--break-even", "0.5", "--json", json, "--force"});
    QVERIFY2(half.exitCode == 0, qPrintable(half.err));
    QVERIFY(half.out.contains("ranks break-even x 0.5"));
    QFile halfFile(json);
    QVERIFY(halfFile.open(QIODevice::ReadOnly));
    const QJsonObject halfRanks =
        QJsonDocument::fromJson(halfFile.readAll()).object()["ranks"].toObject();
    QCOMPARE(halfRanks["model.layers.2.self_attn.q_proj"].toInt(), 16);
    QCOMPARE(halfRanks["model.layers.2.self_attn.k_proj"].toInt(), 10);
    QCOMPARE(halfRanks["model.layers.2.mlp.down_proj"].toInt(), 23);
    const Run equal = runCli({"plan", "1", "--budget-params", "20000", "--weights", "equal"});
    QVERIFY(equal.out.contains("equal layer weights"));
    // The default: sensitivities measured once (one window per layer here), then from the store.
    const Run measured = runCli({"plan", "1", "--budget-rank", "4", "--sensitivity-windows", "1"});
    QVERIFY2(measured.exitCode == 0, qPrintable(measured.err));
    QVERIFY(measured.out.contains("sensitivity layer weights"));
    QVERIFY(measured.out.contains("predicted perplexity increase"));
}

void TestBudgetCli::planRefusesBadInput() {
    struct Case {
        QStringList args;
        int exitCode;
        QString message;
    };
    const QList<Case> cases = {
        {{"plan", "1"}, 2, "needs exactly one of a budget"},
        {{"plan", "1", "--break-even", "0.5", "--budget-rank", "4"}, 2, "exactly one of"},
        {{"plan", "1", "--break-even", "-1"}, 2, "non-negative fraction"},
        {{"plan", "1", "--budget-rank", "4", "--bpw", "4"}, 2, "exactly one of"},
        {{"plan", "1", "--budget-params", "-5"}, 2, "non-negative"},
        {{"plan", "1", "--budget-params", "99999999"}, 2, "exceeds the full-rank cost"},
        {{"plan", "1", "--bpw", "2"}, 2, "below the 3.6105"},
        {{"plan", "1", "--budget-rank", "4", "--override", "lm_head=8"}, 2, "matches no layer"},
        {{"plan", "1", "--budget-rank", "4", "--override", "down_proj"}, 2, "PATTERN=RANK"},
        {{"plan", "1", "--budget-rank", "4", "--override", "down_proj=8", "--exclude", "mlp\\..*"},
         2,
         "is excluded by"},
        {{"plan", "1", "--budget-rank", "4", "--override", "down_proj=4", "--override",
          "layers\\.0\\.mlp\\..*=8"},
         2,
         "contradicting overrides"},
        {{"plan", "1", "--budget-rank", "4", "--min-rank", "9", "--max-rank", "3"},
         2,
         "exceeds the maximum rank"},
        {{"plan", "1", "--budget-rank", "4", "--align", "8", "--override", "q_proj=4"},
         2,
         "not a multiple of the alignment 8"},
        {{"plan", "1", "--budget-params", "1000", "--min-rank", "30"}, 2, "below the"},
        {{"plan", "1", "--budget-rank", "4", "--weights", "loud"}, 2, "unknown weighting"},
        {{"plan", "1", "--budget-rank", "4", "--weights", "sensitivity", "--sensitivity-windows",
          "-1"},
         2,
         "must not be negative"},
        {{"plan", "99", "--budget-rank", "4"}, 2, "no experiment 99"},
        {{"plan", "x", "--budget-rank", "4"}, 2, "positive integer"},
        {{"tradeoff", data("models/stories260K"), "--calib", data("text/tinystories/calib.txt")},
         2,
         "--eval"},
        {{"tradeoff", data("models/stories260K"), "--calib", data("text/tinystories/calib.txt"),
          "--eval", data("text/tinystories/eval.txt"), "--bits", "5"},
         2,
         "bits"},
        {{"tradeoff", data("models/stories260K"), "--calib", data("text/tinystories/calib.txt"),
          "--eval", data("text/tinystories/eval.txt"), "--budgets", "r4,lots"},
         2,
         "budget 'lots'"},
    };
    for (const Case& c : cases) {
        const Run run = runCli(c.args);
        QVERIFY2(
            run.exitCode == c.exitCode,
            qPrintable(c.args.join(' ') + " -> " + QString::number(run.exitCode) + ": " + run.err));
        QVERIFY2(run.err.contains(c.message), qPrintable(c.args.join(' ') + ": " + run.err));
        QVERIFY2(!run.out.contains("adapter:"), "a refused plan printed a plan");
    }
}

void TestBudgetCli::planApplyRecordsAnExperiment() {
    const Run run = runCli({"plan", "1", "--budget-rank", "4", "--weights", "energy", "--apply",
                            "--max-windows", "2"});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY2(run.out.contains("applied: eora@plan perplexity"), qPrintable(run.out));
    QVERIFY(run.out.contains("recorded as experiment"));
    const Run list = runCli({"experiments", "list"});
    QVERIFY(list.out.contains("plan of experiment 1"));
}

void TestBudgetCli::tradeoffPrintsTheFront() {
    const QString csv = m_home.filePath("front.csv");
    const Run run = runCli({"tradeoff",       data("models/stories260K"),
                            "--calib",        data("text/tinystories/calib.txt"),
                            "--eval",         data("text/tinystories/eval.txt"),
                            "--bits",         "2,4",
                            "--groups",       "32",
                            "--budgets",      "r2,r4",
                            "--evaluate",     "3",
                            "--max-windows",  "1",
                            "--calib-tokens", "2048",
                            "--csv",          csv});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY(run.out.contains("bits per weight of the compressed layers"));
    QVERIFY(run.out.contains("Spearman"));
    QFile file(csv);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).trimmed().split('\n');
    QCOMPARE(lines.size(), 5);
    QVERIFY(lines[0].startsWith("compression,bits,group,budget"));
}

// Every case runs the real CLI on the real model; on a busy machine a function can take longer
// than QtTest's default of five minutes.
int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "1800000");
    QCoreApplication app(argc, argv);
    TestBudgetCli test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_budget_cli.moc"
