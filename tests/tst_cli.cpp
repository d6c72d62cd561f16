// End-to-end checks of rankscope-cli as a user runs it: output, exit codes, error messages.
#include "testdata.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run runCli(const QStringList& args, int timeoutMs = 120000) {
    QProcess process;
    process.start(QStringLiteral(RANKSCOPE_CLI_PATH), args);
    if (!process.waitForFinished(timeoutMs))
        process.kill();
    return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
            QString::fromUtf8(process.readAllStandardOutput()),
            QString::fromUtf8(process.readAllStandardError())};
}

QString data(const std::string& relative) {
    return QString::fromStdString(rs::test::dataPath(relative).string());
}

QString readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void generateReproducesReference();
    void generateFromLlama2cFile();
    void evalReportsPinnedPerplexityAndJson();
    void infoListsLayers();
    void helpForEveryCommand();
    void usageErrorsExitWithTwo();
    void failuresExitWithOneAndNameTheFile();
    void compressPrintsTablesAndJson();
    void methodsListsTheRegistry();
};

void TestCli::generateReproducesReference() {
    const Run run = runCli({"generate", data("models/stories260K"), "--max-tokens", "256"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, readAll(data("models/stories260K/reference/greedy-256.txt")));
}

void TestCli::generateFromLlama2cFile() {
    const Run run = runCli({"generate", data("llama2c/stories260K.bin"), "--tokenizer",
                            data("llama2c/tok512.bin"), "--max-tokens", "256"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, readAll(data("models/stories260K/reference/greedy-256.txt")));
    // Without a tokenizer beside the file, generation explains what is missing.
    const Run missing = runCli({"generate", data("llama2c/stories260K.bin")});
    QCOMPARE(missing.exitCode, 1);
    QVERIFY2(missing.err.contains("--tokenizer"), qPrintable(missing.err));
}

void TestCli::evalReportsPinnedPerplexityAndJson() {
    QTemporaryDir dir;
    const QString json = dir.filePath("result.json");
    const Run run = runCli({"eval", data("models/stories260K"), "--text",
                            data("text/tinystories/eval.txt"), "--json", json});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.out.contains("perplexity 3.63"), qPrintable(run.out));
    QVERIFY2(run.out.contains("47,616 predicted tokens"), qPrintable(run.out));
    QVERIFY2(run.out.contains("tinystories, seq_len 512, 93 windows"), qPrintable(run.out));
    const QJsonObject result = QJsonDocument::fromJson(readAll(json).toUtf8()).object();
    QCOMPARE(result["predicted_tokens"].toInt(), 47616);
    QCOMPARE(result["protocol"].toString(), QString("tinystories"));
    QVERIFY(std::abs(result["perplexity"].toDouble() - 3.6316) < 0.02);
    QVERIFY(result.contains("seconds") && result.contains("seq_len") && result.contains("windows"));
}

void TestCli::infoListsLayers() {
    const Run run = runCli({"info", data("models/stories260K")});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.out.contains("260,032 total"), qPrintable(run.out));
    QVERIFY(run.out.contains("model.layers.4.mlp.down_proj"));
    QCOMPARE(run.out.count("model.layers."), 35);
    const Run json = runCli({"info", data("models/stories260K"), "--json"});
    QCOMPARE(json.exitCode, 0);
    const QJsonObject summary = QJsonDocument::fromJson(json.out.toUtf8()).object();
    QCOMPARE(summary["parameters"].toInt(), 260032);
    QCOMPARE(summary["num_key_value_heads"].toInt(), 4);
}

void TestCli::helpForEveryCommand() {
    const Run overview = runCli({"--help"});
    QCOMPARE(overview.exitCode, 0);
    for (const QString command : {"info", "generate", "eval", "compress", "methods"}) {
        QVERIFY(overview.out.contains("  " + command));
        const Run help = runCli({command, "--help"});
        QCOMPARE(help.exitCode, 0);
        QVERIFY(help.out.startsWith("usage: rankscope-cli " + command));
    }
}

void TestCli::usageErrorsExitWithTwo() {
    const QString model = data("models/stories260K");
    const QList<QStringList> calls = {
        {},
        {"frobnicate"},
        {"eval", model},                             // missing --text
        {"generate", model, "--max-tokens", "many"}, // not a number
        {"generate", model, "--max-tokens", "0"},
        {"info"}, // missing MODEL
        {"info", model, "--no-such-option"},
        {"eval", model, "--text", "x", "--protocol", "c4"},
        {"generate", model, "--dtype", "int8"},
        {"compress", model}, // missing --calib
        {"compress", model, "--calib", "x", "--method", "rtn:bits=5"},
        {"compress", model, "--calib", "x", "--comp", "eora:alpha=1"},
        {"compress", model, "--calib", "x", "--ranks", "4,zero"},
        {"compress", model, "--calib", "x", "--calib-mode", "serial"},
    };
    for (const QStringList& call : calls) {
        const Run run = runCli(call);
        QVERIFY2(run.exitCode == 2, qPrintable(call.join(' ') + " -> " + run.err));
    }
}

void TestCli::failuresExitWithOneAndNameTheFile() {
    const Run missing = runCli({"info", "/nonexistent/model"});
    QCOMPARE(missing.exitCode, 1);
    QVERIFY2(missing.err.contains("/nonexistent/model"), qPrintable(missing.err));

    QTemporaryDir dir;
    QFile bad(dir.filePath("bad.txt"));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("caf\xE9\n");
    bad.close();
    const Run text = runCli({"eval", data("models/stories260K"), "--text", bad.fileName()});
    QCOMPARE(text.exitCode, 1);
    // Progress lines may precede it; the error itself is the one last line.
    const QStringList lines = text.err.trimmed().split('\n');
    QVERIFY2(lines.last().startsWith("rankscope-cli eval: error: ") &&
                 lines.last().contains("bad.txt: not valid UTF-8"),
             qPrintable(text.err));
    QCOMPARE(text.err.count("error:"), 1);
}

void TestCli::compressPrintsTablesAndJson() {
    QTemporaryDir dir;
    const QString json = dir.filePath("compress.json");
    const Run run =
        runCli({"compress", data("models/stories260K"), "--calib",
                data("text/tinystories/calib.txt"), "--eval", data("text/tinystories/eval.txt"),
                "--max-windows", "4", "--method", "rtn:bits=3,group=32", "--comp", "none,svd,eora",
                "--ranks", "4,8", "--calib-tokens", "2048", "--json", json});
    QVERIFY2(run.exitCode == 0, qPrintable(run.err));
    QVERIFY(run.out.contains("compression rtn:bits=3,group=32,sym=false, calibration parallel"));
    QVERIFY(run.out.contains("layers.0.self_attn.q_proj"));
    QVERIFY(run.out.contains("eora@8"));
    QVERIFY2(run.out.contains("perplexity (tinystories, seq_len 512, 2,048 predicted tokens)"),
             qPrintable(run.out));
    const QJsonObject result = QJsonDocument::fromJson(readAll(json).toUtf8()).object();
    QCOMPARE(result["variants"].toArray().size(), 5);
    QCOMPARE(result["layers"].toArray().size(), 35);
    QCOMPARE(result["calibration_tokens"].toInt(), 2048);
    const QJsonObject firstLayer = result["layers"].toArray().first().toObject();
    QCOMPARE(firstLayer["relative_error_after"].toArray().size(), 5);
    QVERIFY(result["variants"].toArray().last().toObject()["perplexity"].toObject().contains(
        "perplexity"));
}

void TestCli::methodsListsTheRegistry() {
    const Run run = runCli({"methods"});
    QCOMPARE(run.exitCode, 0);
    for (const char* id : {"rtn", "gptq", "magnitude", "wanda", "svd", "eora", "asvd"})
        QVERIFY2(run.out.contains(QString("  ") + id + " "), id);
    QVERIFY(run.out.contains("act_order"));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
