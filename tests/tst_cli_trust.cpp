// rankscope-cli against a clumsy or hostile user: nothing the user kept is replaced without being
// asked, every mistake in the call exits with 2, and a bad input is named for what it is.
#include "cli_run.h"
#include "testdata.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSysInfo>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <cstring>
#include <sys/stat.h>

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

// Copies stories260K into DIR with element ELEMENT of TENSOR replaced by VALUE, found through the
// safetensors header.
bool copyWithValue(const QDir& dir, const QString& tensor, float value, qint64 element = 0) {
    const QDir source(data("models/stories260K"));
    for (const QString& name : source.entryList(QDir::Files))
        if (!QFile::copy(source.filePath(name), dir.filePath(name)))
            return false;
    QFile weights(dir.filePath("model.safetensors"));
    if (!weights.open(QIODevice::ReadWrite))
        return false;
    quint64 headerBytes = 0;
    weights.read(reinterpret_cast<char*>(&headerBytes), 8);
    const QJsonObject header = QJsonDocument::fromJson(weights.read(qint64(headerBytes))).object();
    const QJsonObject entry = header[tensor].toObject();
    if (entry["dtype"].toString() != "F32")
        return false;
    const qint64 offset =
        8 + qint64(headerBytes) + entry["data_offsets"].toArray()[0].toInteger() + element * 4;
    return weights.seek(offset) &&
           weights.write(reinterpret_cast<const char*>(&value), sizeof value) == sizeof value;
}

// Rewrites DIR/model.safetensors with copies of existing tensors added under new names
// (new name -> existing name).
bool addTensorCopies(const QDir& dir, const QList<std::pair<QString, QString>>& copies) {
    QFile file(dir.filePath("model.safetensors"));
    if (!file.open(QIODevice::ReadOnly))
        return false;
    const QByteArray bytes = file.readAll();
    file.close();
    quint64 headerBytes = 0;
    std::memcpy(&headerBytes, bytes.constData(), 8);
    QJsonObject header = QJsonDocument::fromJson(bytes.mid(8, qint64(headerBytes))).object();
    QByteArray payload = bytes.mid(8 + qint64(headerBytes));
    for (const auto& [name, from] : copies) {
        QJsonObject entry = header[from].toObject();
        const QJsonArray range = entry["data_offsets"].toArray();
        const QByteArray values =
            payload.mid(range[0].toInteger(), range[1].toInteger() - range[0].toInteger());
        entry["data_offsets"] = QJsonArray{payload.size(), payload.size() + values.size()};
        payload += values;
        header[name] = entry;
    }
    QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    json += QByteArray((8 - json.size() % 8) % 8, ' ');
    const quint64 size = quint64(json.size());
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return false;
    file.write(reinterpret_cast<const char*>(&size), 8);
    file.write(json);
    return file.write(payload) == payload.size();
}

} // namespace

class TestCliTrust : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void resultFilesAreNotReplacedUnlessForced();
    void everyInvalidOptionValueExitsWithTwo();
    void killedExportIsCleanedByTheNextOrByPrune();
    void nonFiniteWeightsAreNamedBeforeAnyResult();
    void badPathsSayWhatTheyAre();
    void tensorsTheConfigDoesNotUseAreNamedNotCounted();
    void evaluatingOnTheCalibrationTextWarns();

private:
    QTemporaryDir m_home; // the store and cache of every run, never the user's own
    QString m_experiment; // RTN 4-bit + EoRA r4 of stories260K, recorded once
};

void TestCliTrust::initTestCase() {
    QVERIFY(m_home.isValid());
    rs::test::useHome(m_home);
    const Run recorded =
        runCli({"compress", data("models/stories260K"), "--calib",
                data("text/tinystories/calib.txt"), "--calib-tokens", "512", "--ranks", "4"});
    QCOMPARE(recorded.exitCode, 0);
    m_experiment =
        QRegularExpression("recorded as experiment (\\d+)").match(recorded.out).captured(1);
    QVERIFY2(!m_experiment.isEmpty(), qPrintable(recorded.out));
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
    // A file in a directory that does not exist: refused before the work, not after it.
    const QString nowhere = dir.filePath("missing/result.json");
    const Run noDirectory = runCli(eval + QStringList{"--json", nowhere});
    QCOMPARE(noDirectory.exitCode, 1);
    QVERIFY2(noDirectory.err.contains(nowhere + ": cannot be written: its directory"),
             qPrintable(noDirectory.err));
    QVERIFY(!noDirectory.out.contains("perplexity"));

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
    const QString id = m_experiment;
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
        {{"compress", model, "--calib", calib, "--include", "nomatch"},
         "no decoder linear layer matches"},
        {{"compress", model, "--calib", calib, "--rank", "64"},
         "rank: 64 exceeds min(d_out, d_in) = 32 of model.layers.0.self_attn.k_proj"},
        {{"compress", model, "--calib", calib, "--ranks", "4,4"}, "'4' is given twice"},
        {{"compress", model, "--calib", calib, "--comp", "svd,svd"}, "'svd' is given twice"},
        {{"plan", id, "--budget-percent", "200"}, "exceeds the full-rank cost"},
        {{"plan", id, "--budget-rank", "4", "--override", "nomatch=4"}, "matches no layer"},
        {{"plan", id, "--budget-rank", "4", "--override", "[=4"}, "not a valid regular"},
        {{"plan", id, "--budget-rank", "4", "--comp", "nope"}, "unknown method 'nope'"},
        {{"export", id, out.filePath("x"), "--format", "merged", "--variant", "nope"},
         "has no variant 'nope'"},
        {{"experiments", "list", "--limit", "0"}, "--limit must be at least 1"},
        {{"lowrank", model, "--calib", calib, "--rank", "100"},
         "model.layers.0.self_attn.q_proj: rank 100 is outside 1..64"},
        {{"lowrank", model, "--calib", calib, "--reduction", "99.9"},
         "cannot reach 99.9% fewer parameters"},
        {{"generate", model, "--prompt", QString("once upon a time ").repeated(200)},
         "the prompt (1002 tokens) is longer than the model context"},
        {{"experiments", "show", "999"}, "no experiment 999"},
        {{"export", "999", out.filePath("x"), "--format", "merged"}, "no experiment 999"},
        {{"plan", "999", "--budget-rank", "4"}, "no experiment 999"},
    };
    const Run before = runCli({"experiments", "list"});
    for (const auto& [call, message] : calls) {
        const Run run = runCli(call);
        QVERIFY2(
            run.exitCode == 2 && run.err.contains(message),
            qPrintable(call.join(' ') + " -> " + QString::number(run.exitCode) + " " + run.err));
    }
    QVERIFY(!QFileInfo::exists(out.filePath("x")));
    // A mistake in the call records no (failed) experiment.
    QCOMPARE(runCli({"experiments", "list"}).out, before.out);
}

// Starts `export` into DIR/NAME and kills it (SIGKILL) once its staging directory exists; returns
// the killed process's pid, 0 when the staging directory never appeared.
qint64 killExportWhileStaging(const QString& experiment, const QDir& dir, const QString& name) {
    QProcess process;
    process.start(RANKSCOPE_CLI_PATH,
                  {"export", experiment, dir.filePath(name), "--format", "merged"});
    if (!process.waitForStarted())
        return 0;
    const qint64 pid = process.processId();
    QElapsedTimer waited;
    waited.start();
    bool staged = false;
    while (!staged && waited.elapsed() < 60000 && process.state() == QProcess::Running) {
        staged = !dir.entryList({"." + name + ".staging.*"}, QDir::Dirs | QDir::Hidden).isEmpty();
        if (!staged)
            QThread::msleep(5);
    }
    process.kill();
    process.waitForFinished();
    return staged ? pid : 0;
}

void TestCliTrust::killedExportIsCleanedByTheNextOrByPrune() {
    QTemporaryDir out;
    const QDir dir(out.path());
    const QDir markers(m_home.filePath("cache/staging"));
    const auto leftovers = [&](const QString& name) {
        return dir.entryList({"." + name + ".*"}, QDir::Dirs | QDir::Hidden);
    };
    // `cache prune` finds the leftover through its marker in the cache.
    QVERIFY(killExportWhileStaging(m_experiment, dir, "pruned") != 0);
    QCOMPARE(leftovers("pruned").size(), 1);
    QCOMPARE(markers.entryList(QDir::Files | QDir::Hidden).size(), 1);
    const Run dryRun = runCli({"cache", "prune", "--dry-run"});
    QCOMPARE(dryRun.exitCode, 0);
    QVERIFY2(dryRun.out.contains("would have removed " + dir.filePath(leftovers("pruned")[0])),
             qPrintable(dryRun.out));
    QCOMPARE(leftovers("pruned").size(), 1);
    const Run prune = runCli({"cache", "prune"});
    QVERIFY2(prune.out.contains("removed " + dir.filePath(".pruned.staging.")),
             qPrintable(prune.out));
    QVERIFY(leftovers("pruned").isEmpty());
    QVERIFY(markers.entryList(QDir::Files | QDir::Hidden).isEmpty());

    // The next export into the same directory cleans up too; an earlier export that a killed
    // replacement had moved aside goes back to its name.
    const qint64 dead = killExportWhileStaging(m_experiment, dir, "killed");
    QVERIFY(dead != 0);
    const QString aside =
        ".earlier.old." + QSysInfo::machineHostName() + "." + QString::number(dead) + ".0";
    QVERIFY(dir.mkdir(aside));
    writeFile(dir.filePath(aside + "/rankscope_export.json"), "{}");
    const Run next = runCli({"export", m_experiment, dir.filePath("next"), "--format", "merged"});
    QVERIFY2(next.exitCode == 0, qPrintable(next.err));
    QVERIFY(leftovers("killed").isEmpty());
    QVERIFY(!QFileInfo::exists(dir.filePath(aside)));
    QCOMPARE(readText(dir.filePath("earlier/rankscope_export.json")), QString("{}"));
    QCOMPARE(dir.entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
             QStringList({"earlier", "next"}));
}

void TestCliTrust::nonFiniteWeightsAreNamedBeforeAnyResult() {
    QTemporaryDir nanDir, infDir, embeddingDir;
    const QString down = "model.layers.2.mlp.down_proj.weight";
    QVERIFY(copyWithValue(QDir(nanDir.path()), down, std::numeric_limits<float>::quiet_NaN()));
    QVERIFY(copyWithValue(QDir(infDir.path()), down, std::numeric_limits<float>::infinity()));
    // Row 1 is BOS, the first token of every generation (hidden size 64).
    QVERIFY(copyWithValue(QDir(embeddingDir.path()), "model.embed_tokens.weight",
                          std::numeric_limits<float>::quiet_NaN(), 64 + 5));
    const QString file = "/model.safetensors: tensor '" + down + "' holds NaN or Inf values";
    for (const QString& dir : {nanDir.path(), infDir.path()}) {
        const QList<QStringList> calls = {
            {"generate", dir, "--max-tokens", "8"},
            {"eval", dir, "--text", data("text/tinystories/eval.txt"), "--max-windows", "1"},
            {"compress", dir, "--calib", data("text/tinystories/calib.txt"), "--calib-tokens",
             "512", "--no-store"}};
        for (const QStringList& call : calls) {
            const Run run = runCli(call);
            QVERIFY2(run.exitCode == 1 && run.err.contains(dir + file),
                     qPrintable(call.join(' ') + " -> " + run.err));
            QVERIFY2(!run.out.contains("<unk>") && !run.out.contains("perplexity"),
                     qPrintable(run.out));
        }
    }
    const Run embedding = runCli({"generate", embeddingDir.path(), "--max-tokens", "8"});
    QCOMPARE(embedding.exitCode, 1);
    QVERIFY2(embedding.err.contains(embeddingDir.path() +
                                    "/model.safetensors: tensor 'model.embed_tokens.weight'"),
             qPrintable(embedding.err));
}

void TestCliTrust::badPathsSayWhatTheyAre() {
    QTemporaryDir dir;
    const QString fifo = dir.filePath("pipe");
    QCOMPARE(::mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
    const QList<std::pair<QString, QString>> texts = {
        {dir.path(), "is a directory, not a text file"},
        {fifo, "is a named pipe (FIFO), not a text file"},
        {"/dev/null", "is a device, not a text file"},
        {dir.filePath("missing.txt"), "no such text file"}};
    for (const auto& [text, problem] : texts) {
        const Run run = runCli({"eval", data("models/stories260K"), "--text", text});
        QVERIFY2(run.exitCode == 1 && run.err.contains(text + ": " + problem), qPrintable(run.err));
    }
    // A weights file that is a FIFO is named (opening it would wait for a writer forever).
    QTemporaryDir piped;
    QVERIFY(copyWithValue(QDir(piped.path()), "model.norm.weight", 1.0f));
    const QString weights = piped.filePath("model.safetensors");
    QVERIFY(QFile::remove(weights));
    QCOMPARE(::mkfifo(weights.toLocal8Bit().constData(), 0600), 0);
    const Run info = runCli({"info", piped.path()});
    QVERIFY2(info.exitCode == 1 && info.err.contains(weights + ": is a named pipe (FIFO)"),
             qPrintable(info.err));
    // Reading a store that is not there (a mistyped --db) creates nothing.
    const QString typo = dir.filePath("typo.db");
    const Run list = runCli({"experiments", "list", "--db", typo});
    QVERIFY2(list.exitCode == 1 && list.err.contains(typo + ": no experiment store here"),
             qPrintable(list.err));
    QVERIFY(!QFile::exists(typo));
    // An experiment whose model directory was deleted since it ran says so.
    QTemporaryDir copy;
    QVERIFY(copyWithValue(QDir(copy.path()), "model.norm.weight", 1.0f));
    const Run recorded =
        runCli({"compress", copy.path(), "--calib", data("text/tinystories/calib.txt"),
                "--calib-tokens", "512", "--ranks", "4", "--no-analysis"});
    QCOMPARE(recorded.exitCode, 0);
    const QString id =
        QRegularExpression("recorded as experiment (\\d+)").match(recorded.out).captured(1);
    QVERIFY(copy.remove());
    const Run exported = runCli({"export", id, dir.filePath("out"), "--format", "merged"});
    QCOMPARE(exported.exitCode, 1);
    QVERIFY2(exported.err.contains(copy.path() + ": the experiment's model is missing"),
             qPrintable(exported.err));
}

void TestCliTrust::tensorsTheConfigDoesNotUseAreNamedNotCounted() {
    // stories260K ties its embeddings and has 5 blocks: an output head and a sixth block's norm
    // are not part of the model.
    QTemporaryDir copy;
    const QDir dir(copy.path());
    QVERIFY(copyWithValue(dir, "model.norm.weight", 1.0f));
    QVERIFY(addTensorCopies(
        dir, {{"lm_head.weight", "model.embed_tokens.weight"},
              {"model.layers.5.input_layernorm.weight", "model.layers.4.input_layernorm.weight"}}));
    const Run info = runCli({"info", copy.path(), "--json"});
    QCOMPARE(info.exitCode, 0);
    const QJsonObject summary = QJsonDocument::fromJson(info.out.toUtf8()).object();
    QCOMPARE(summary["parameters"].toInt(), 260032);
    QCOMPARE(summary["unused_tensors"].toArray(),
             QJsonArray({"lm_head.weight", "model.layers.5.input_layernorm.weight"}));
    const Run eval = runCli(
        {"eval", copy.path(), "--text", data("text/tinystories/eval.txt"), "--max-windows", "1"});
    QCOMPARE(eval.exitCode, 0);
    QVERIFY2(eval.err.contains("warning: 2 tensor(s) in " + copy.path() +
                               " are not used by its config and not counted: lm_head.weight, "
                               "model.layers.5.input_layernorm.weight"),
             qPrintable(eval.err));
    // The text summary names them once, in its own row.
    const Run text = runCli({"info", copy.path()});
    QCOMPARE(text.exitCode, 0);
    QVERIFY2(text.out.contains("warning       2 tensor(s) in"), qPrintable(text.out));
    QVERIFY2(!text.err.contains("warning"), qPrintable(text.err));
    // The real model has none.
    const Run clean = runCli({"info", data("models/stories260K"), "--json"});
    QCOMPARE(QJsonDocument::fromJson(clean.out.toUtf8())["unused_tensors"].toArray().size(), 0);
}

void TestCliTrust::evaluatingOnTheCalibrationTextWarns() {
    // The same file by another path: a perplexity of fit, not of generalization, said so.
    QTemporaryDir dir;
    const QString alias = dir.filePath("calib-link.txt");
    QVERIFY(QFile::link(data("text/tinystories/calib.txt"), alias));
    const Run run = runCli({"compress", data("models/stories260K"), "--calib",
                            data("text/tinystories/calib.txt"), "--calib-tokens", "512", "--ranks",
                            "4", "--eval", alias, "--max-windows", "1", "--no-store"});
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.err.contains(QRegularExpression(
                 "\nwarning: the evaluation text \\S+calib\\S*\\.txt is the calibration text: its "
                 "perplexity shows how well the model fits what it was calibrated on")),
             qPrintable(run.err));
}

QTEST_GUILESS_MAIN(TestCliTrust)
#include "tst_cli_trust.moc"
