// End-to-end checks of rankscope-cli as a user runs it: output, exit codes, error messages.
#include "cli_run.h"
#include "methods/registry.h"
#include "testdata.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

namespace {

using Run = rs::test::CliRun;
using rs::test::readText;
using rs::test::runCli;

QString data(const std::string& relative) {
    return rs::test::dataArg(relative);
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void generateReproducesReference();
    void generateFromLlama2cFile();
    void evalReportsPinnedPerplexityAndJson();
    void infoListsLayers();
    void helpForEveryCommand();
    void usageErrorsExitWithTwo();
    void failuresExitWithOneAndNameTheFile();
    void compressPrintsTablesAndJson();
    void methodsListsTheRegistry();
    void experimentsAreRecordedAndCompared();
    void storeCommandsRejectBadInput();

private:
    QTemporaryDir m_home; // the store and cache of every run, never the user's own
};

void TestCli::initTestCase() {
    QVERIFY(m_home.isValid());
    rs::test::useHome(m_home);
}

void TestCli::generateReproducesReference() {
    const Run run = runCli({"generate", data("models/stories260K"), "--max-tokens", "256"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, readText(data("models/stories260K/reference/greedy-256.txt")));
}

void TestCli::generateFromLlama2cFile() {
    const Run run = runCli({"generate", data("llama2c/stories260K.bin"), "--tokenizer",
                            data("llama2c/tok512.bin"), "--max-tokens", "256"});
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out, readText(data("models/stories260K/reference/greedy-256.txt")));
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
    const QJsonObject result = QJsonDocument::fromJson(readText(json).toUtf8()).object();
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
    for (const QString command :
         {"info", "generate", "eval", "compress", "methods", "experiments list", "experiments show",
          "experiments compare", "experiments delete", "experiments export-csv",
          "experiments analyze", "cache list", "cache prune"}) {
        QVERIFY(overview.out.contains("  " + command));
        const Run help = runCli(command.split(' ') + QStringList{"--help"});
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
    const QJsonObject result = QJsonDocument::fromJson(readText(json).toUtf8()).object();
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
    for (const rs::MethodSpec& method : rs::methodRegistry())
        QVERIFY2(run.out.contains(QString("  ") + QString::fromStdString(method.id) + " "),
                 method.id.c_str());
    QVERIFY(run.out.contains("act_order"));
}

void TestCli::experimentsAreRecordedAndCompared() {
    QTemporaryDir dir;
    const QString db = dir.filePath("experiments.db");
    // A cache of its own: statistics saved by the other tests' runs would be reused otherwise.
    const QByteArray sharedCache = qgetenv("RANKSCOPE_CACHE");
    qputenv("RANKSCOPE_CACHE", dir.filePath("cache").toUtf8());
    const auto restore = qScopeGuard([&] { qputenv("RANKSCOPE_CACHE", sharedCache); });
    const QStringList common{data("models/stories260K"),
                             "--calib",
                             data("text/tinystories/calib.txt"),
                             "--eval",
                             data("text/tinystories/eval.txt"),
                             "--max-windows",
                             "4",
                             "--comp",
                             "none,eora",
                             "--rank",
                             "4",
                             "--calib-tokens",
                             "2048",
                             "--no-analysis",
                             "--db",
                             db};
    const Run first =
        runCli(QStringList{"compress"} + common + QStringList{"--method", "rtn:bits=3,group=32"});
    QVERIFY2(first.exitCode == 0, qPrintable(first.err));
    QVERIFY2(first.out.contains("recorded as experiment 1 in " + db), qPrintable(first.out));
    QVERIFY(!first.out.contains("reused"));
    const Run second = runCli(QStringList{"compress"} + common +
                              QStringList{"--method", "rtn:bits=2,group=32", "--name", "two-bit"});
    QVERIFY2(second.exitCode == 0, qPrintable(second.err));
    QVERIFY(second.out.contains("recorded as experiment 2"));
    QVERIFY2(second.out.contains("calibration statistics reused"), qPrintable(second.out));

    // Run without analysis: one layer analysed afterwards from the saved statistics, once.
    const QStringList analyze{"experiments", "analyze", "1", "--layer", "layers\\.0\\.mlp\\.down",
                              "--db",        db};
    const Run analysed = runCli(analyze);
    QVERIFY2(analysed.exitCode == 0, qPrintable(analysed.err));
    QCOMPARE(analysed.out, QString("analysed model.layers.0.mlp.down_proj\n"));
    QVERIFY(runCli(analyze).out.contains("has its analysis already"));

    const Run list = runCli({"experiments", "list", "--json", "--db", db});
    QVERIFY2(list.exitCode == 0, qPrintable(list.err));
    const QJsonArray rows = QJsonDocument::fromJson(list.out.toUtf8()).array();
    QCOMPARE(rows.size(), 2);
    QCOMPARE(rows[0].toObject()["id"].toInt(), 2); // newest first
    QCOMPARE(rows[0].toObject()["name"].toString(), QString("two-bit"));
    QCOMPARE(rows[1].toObject()["status"].toString(), QString("done"));
    QCOMPARE(rows[1].toObject()["kind"].toString(), QString("compress"));
    QVERIFY(rows[1].toObject()["best_perplexity"].toDouble() > 1.0);

    const Run compare = runCli({"experiments", "compare", "1", "2", "--db", db});
    QVERIFY2(compare.exitCode == 0, qPrintable(compare.err));
    const QStringList lines = compare.out.split('\n');
    const auto line = [&](const QString& start) {
        for (const QString& l : lines)
            if (l.startsWith(start))
                return l;
        return QString();
    };
    QVERIFY2(line("* compression").contains("rtn:bits=3") &&
                 line("* compression").contains("rtn:bits=2"),
             qPrintable(compare.out));
    QVERIFY(line("* statistics").contains("computed") && line("* statistics").contains("reused"));
    QVERIFY(line("  model").size() > 0); // same model: not marked
    // Perplexities side by side: 2-bit is worse than 3-bit for both variants.
    for (const QString label : {"none", "eora@4"}) {
        const QStringList cells = line(label + " ").split(' ', Qt::SkipEmptyParts);
        QVERIFY2(cells.size() >= 4, qPrintable(compare.out));
        QVERIFY(cells[2].toDouble() > cells[1].toDouble());
    }

    // The same as JSON with the second as the baseline: changes are experiment minus baseline.
    const Run json = runCli({"experiments", "compare", "2", "1", "--json", "--db", db});
    QVERIFY2(json.exitCode == 0, qPrintable(json.err));
    const QJsonObject comparison = QJsonDocument::fromJson(json.out.toUtf8()).object();
    QCOMPARE(comparison["baseline"].toInt(), 2);
    QCOMPARE(comparison["experiments"].toArray().size(), 2);
    bool compressionDiffers = false;
    for (const QJsonValue row : comparison["settings"].toArray())
        if (row.toObject()["key"].toString() == "compression")
            compressionDiffers = row.toObject()["differs"].toBool();
    QVERIFY(compressionDiffers);
    QCOMPARE(comparison["costs"].toArray()[0].toObject()["key"].toString(), QString("statistics"));
    bool eoraCompared = false;
    for (const QJsonValue row : comparison["metrics"].toArray()) {
        const QJsonObject m = row.toObject();
        if (m["label"].toString() != "eora@4")
            continue;
        eoraCompared = true;
        const QJsonArray ppl = m["perplexity"].toArray();
        const QJsonArray change = m["perplexity_change"].toArray();
        QCOMPARE(change[0].toDouble(), 0.0);
        QCOMPARE(change[1].toDouble(), ppl[1].toDouble() - ppl[0].toDouble());
        QVERIFY(change[1].toDouble() < 0); // 3-bit is better than the 2-bit baseline
    }
    QVERIFY(eoraCompared);
    // One ID, or one twice, is refused with the reason.
    const Run one = runCli({"experiments", "compare", "1", "--db", db});
    QCOMPARE(one.exitCode, 2);
    QVERIFY2(one.err.contains("ID ID..."), qPrintable(one.err));
    const Run twice = runCli({"experiments", "compare", "1", "2", "1", "--db", db});
    QVERIFY(twice.exitCode != 0);
    QVERIFY2(twice.err.contains("experiment 1 is listed twice"), qPrintable(twice.err));

    const Run show = runCli({"experiments", "show", "2", "--db", db});
    QVERIFY2(show.exitCode == 0, qPrintable(show.err));
    QVERIFY(show.out.contains("statistics reused"));
    QVERIFY(show.out.contains("re-run: rankscope-cli compress"));
    QVERIFY(show.out.contains("--method rtn:bits=2,group=32"));

    const QString csv = dir.filePath("layers.csv");
    QCOMPARE(runCli({"experiments", "export-csv", "2", csv, "--db", db}).exitCode, 0);
    const QStringList csvLines = readText(csv).trimmed().split('\n');
    QCOMPARE(csvLines.size(), 36); // header + 35 linears
    QVERIFY(csvLines.first().startsWith("layer,block,kind,d_out,d_in"));
    QVERIFY(csvLines.first().contains("eora@4 error"));

    const Run cacheList = runCli({"cache", "list", "--db", db});
    QVERIFY2(cacheList.out.contains("calibration statistics"), qPrintable(cacheList.out));
    QCOMPARE(runCli({"experiments", "delete", "1", "--db", db}).exitCode, 0);
    const Run after = runCli({"experiments", "list", "--json", "--db", db});
    QCOMPARE(QJsonDocument::fromJson(after.out.toUtf8()).array().size(), 1);
    const Run prune = runCli({"cache", "prune", "--all", "--db", db});
    QVERIFY2(prune.exitCode == 0 && prune.out.contains("removed 2 artefacts"),
             qPrintable(prune.out + prune.err));

    // A low-rank run is recorded as one, and the listing filters by kind.
    const Run lowrank =
        runCli({"lowrank", data("models/stories260K"), "--calib",
                data("text/tinystories/calib.txt"), "--calib-tokens", "1024", "--method",
                "lord-weight", "--rank", "4", "--no-analysis", "--db", db});
    QVERIFY2(lowrank.exitCode == 0, qPrintable(lowrank.err));
    const Run lowOnly = runCli({"experiments", "list", "--kind", "lowrank", "--db", db});
    QVERIFY2(lowOnly.exitCode == 0, qPrintable(lowOnly.err));
    const QStringList lowLines = lowOnly.out.trimmed().split('\n');
    QCOMPARE(lowLines.size(), 2); // the header and experiment 3
    QVERIFY2(lowLines[0].contains(" kind ") &&
                 lowLines[1].split(' ', Qt::SkipEmptyParts).contains("lowrank"),
             qPrintable(lowOnly.out));
    QVERIFY(lowLines[1].trimmed().startsWith("3 "));
    const Run compressOnly =
        runCli({"experiments", "list", "--kind", "compress", "--json", "--db", db});
    const QJsonArray compressRows = QJsonDocument::fromJson(compressOnly.out.toUtf8()).array();
    QCOMPARE(compressRows.size(), 1);
    QCOMPARE(compressRows[0].toObject()["id"].toInt(), 2);
    const Run showLow = runCli({"experiments", "show", "3", "--db", db});
    QVERIFY2(showLow.out.contains("kind         lowrank"), qPrintable(showLow.out));
    QVERIFY(showLow.out.contains("re-run: rankscope-cli lowrank"));
    const Run badKind = runCli({"experiments", "list", "--kind", "lord", "--db", db});
    QCOMPARE(badKind.exitCode, 2);
    QVERIFY2(badKind.err.contains("unknown kind 'lord'"), qPrintable(badKind.err));
}

void TestCli::storeCommandsRejectBadInput() {
    QTemporaryDir dir;
    // Not a database: a clear error naming the file, and the file untouched.
    const QString notDb = dir.filePath("notes.db");
    {
        QFile f(notDb);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("these are my notes, not a database\n");
    }
    const Run list = runCli({"experiments", "list", "--db", notDb});
    QCOMPARE(list.exitCode, 1);
    QVERIFY2(list.err.contains(notDb), qPrintable(list.err));
    QCOMPARE(readText(notDb), QString("these are my notes, not a database\n"));
    const Run compress =
        runCli({"compress", data("models/stories260K"), "--calib",
                data("text/tinystories/calib.txt"), "--db", notDb, "--calib-tokens", "512"});
    QCOMPARE(compress.exitCode, 1);
    QCOMPARE(readText(notDb), QString("these are my notes, not a database\n"));

    // A store that is not there (a mistyped path): named, and not created by reading it.
    const QString db = dir.filePath("empty.db");
    const Run missing = runCli({"experiments", "show", "42", "--db", db});
    QCOMPARE(missing.exitCode, 1);
    QVERIFY2(missing.err.contains(db + ": no experiment store here"), qPrintable(missing.err));
    QVERIFY(!QFile::exists(db));
    // Exporting, planning and pruning need what is recorded: they do not create a store either.
    for (const QStringList& call :
         {QStringList{"export", "42", dir.filePath("out"), "--format", "merged"},
          QStringList{"plan", "42", "--budget-rank", "4"}, QStringList{"cache", "prune"}}) {
        const Run run = runCli(call + QStringList{"--db", db});
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.err.contains(db + ": no experiment store here"), qPrintable(run.err));
        QVERIFY(!QFile::exists(db));
    }
    QCOMPARE(runCli({"experiments", "show", "x", "--db", db}).exitCode, 2);
    QCOMPARE(runCli({"experiments"}).exitCode, 2);
    QCOMPARE(runCli({"cache", "prune", "--max-size", "lots", "--db", db}).exitCode, 2);
    QCOMPARE(runCli({"compress", data("models/stories260K"), "--calib", "x", "--no-store", "--name",
                     "n"})
                 .exitCode,
             2);
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
