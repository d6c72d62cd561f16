// rankscope-cli against a clumsy or hostile user: nothing the user kept is replaced without being
// asked, every mistake in the call exits with 2, and a bad input is named for what it is.
#include "cli_run.h"
#include "testdata.h"

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

namespace {

using Run = rs::test::CliRun;
using rs::test::readText;
using rs::test::runCli;

QString data(const std::string& relative) {
    return rs::test::dataArg(relative);
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(bytes), bytes.size());
}

} // namespace

class TestCliTrust : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void resultFilesAreNotReplacedUnlessForced();
    void everyInvalidOptionValueExitsWithTwo();

private:
    QTemporaryDir m_home; // the store and cache of every run, never the user's own
};

void TestCliTrust::initTestCase() {
    QVERIFY(m_home.isValid());
    rs::test::useHome(m_home);
}

void TestCliTrust::resultFilesAreNotReplacedUnlessForced() {
    QTemporaryDir dir;
    const QString kept = dir.filePath("kept.json");
    writeFile(kept, "my earlier result\n");
    const QStringList eval = {"eval",          data("models/stories260K"),
                              "--text",        data("text/tinystories/eval.txt"),
                              "--max-windows", "1"};
    // Refused before any work: no perplexity printed, the file as it was.
    const Run refused = runCli(eval + QStringList{"--json", kept});
    QCOMPARE(refused.exitCode, 1);
    QVERIFY2(refused.err.contains(kept + ": already exists; pass --force"),
             qPrintable(refused.err));
    QVERIFY2(!refused.out.contains("perplexity"), qPrintable(refused.out));
    QCOMPARE(readText(kept), QString("my earlier result\n"));
    const Run forced = runCli(eval + QStringList{"--json", kept, "--force"});
    QCOMPARE(forced.exitCode, 0);
    QVERIFY2(readText(kept).contains("\"perplexity\""), qPrintable(readText(kept)));

    const Run directory = runCli(eval + QStringList{"--json", dir.path(), "--force"});
    QCOMPARE(directory.exitCode, 1);
    QVERIFY2(directory.err.contains(dir.path() + ": is a directory"), qPrintable(directory.err));
    QVERIFY(!directory.out.contains("perplexity"));

    // The same rule for every file a command writes: export-csv's positional, tradeoff's --csv.
    const QString csv = dir.filePath("kept.csv");
    writeFile(csv, "a,b\n");
    const Run csvRefused = runCli({"experiments", "export-csv", "1", csv});
    QCOMPARE(csvRefused.exitCode, 1);
    QVERIFY2(csvRefused.err.contains(csv + ": already exists"), qPrintable(csvRefused.err));
    QCOMPARE(readText(csv), QString("a,b\n"));
    const Run tradeoff = runCli({"tradeoff", data("models/stories260K"), "--calib",
                                 data("text/tinystories/calib.txt"), "--eval",
                                 data("text/tinystories/eval.txt"), "--csv", csv});
    QCOMPARE(tradeoff.exitCode, 1);
    QVERIFY2(tradeoff.err.contains(csv + ": already exists"), qPrintable(tradeoff.err));
    QCOMPARE(readText(csv), QString("a,b\n"));
    for (const char* command : {"compress", "lowrank", "plan", "eval", "tradeoff"}) {
        const Run help = runCli({command, "--help"});
        QVERIFY2(help.out.contains("--force"), qPrintable(command));
    }
}

void TestCliTrust::everyInvalidOptionValueExitsWithTwo() {
    const QString model = data("models/stories260K");
    const QString text = data("text/tinystories/eval.txt");
    const QString calib = data("text/tinystories/calib.txt");
    const Run recorded =
        runCli({"compress", model, "--calib", calib, "--calib-tokens", "512", "--ranks", "4"});
    QCOMPARE(recorded.exitCode, 0);
    const QRegularExpression idLine("recorded as experiment (\\d+)");
    const QString id = idLine.match(recorded.out).captured(1);
    QVERIFY2(!id.isEmpty(), qPrintable(recorded.out));
    QTemporaryDir out;
    // Malformed or out of range for the model or experiment it names: a mistake in the call, said
    // in one line that names the option or value.
    const QList<std::pair<QStringList, QString>> calls = {
        {{"eval", model, "--text", text, "--device", "tpu"}, "unknown device 'tpu'"},
        {{"eval", model, "--text", text, "--device", "cuda:x"}, "unknown device 'cuda:x'"},
        {{"eval", model, "--text", text, "--seq-len", "100000"}, "exceeds the model context"},
        {{"eval", model, "--text", text, "--seq-len", "0"}, "--seq-len must be at least 1"},
        {{"eval", model, "--text", text, "--batch", "0"}, "--batch must be at least 1"},
        {{"eval", model, "--text", text, "--dtype", "int8"}, "--dtype must be"},
        {{"eval", model, "--text", text, "--protocol", "c4"}, "--protocol must be"},
        {{"compress", model, "--calib", calib, "--include", "["}, "layer pattern '['"},
        {{"compress", model, "--calib", calib, "--comp", "eora:rank=x"}, "eora"},
        {{"plan", id, "--budget-percent", "200"}, "exceeds the full-rank cost"},
        {{"plan", id, "--budget-rank", "4", "--override", "nomatch=4"}, "matches no layer"},
        {{"plan", id, "--budget-rank", "4", "--override", "[=4"}, "not a valid regular"},
        {{"plan", id, "--budget-rank", "4", "--comp", "nope"}, "unknown method 'nope'"},
        {{"export", id, out.filePath("x"), "--format", "merged", "--variant", "nope"},
         "has no variant 'nope'"},
        {{"experiments", "list", "--limit", "0"}, "--limit must be at least 1"},
    };
    for (const auto& [call, message] : calls) {
        const Run run = runCli(call);
        QVERIFY2(
            run.exitCode == 2 && run.err.contains(message),
            qPrintable(call.join(' ') + " -> " + QString::number(run.exitCode) + " " + run.err));
    }
    QVERIFY(!QFileInfo::exists(out.filePath("x")));
}

QTEST_GUILESS_MAIN(TestCliTrust)
#include "tst_cli_trust.moc"
