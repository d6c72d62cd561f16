// GGUF exports run by a real llama.cpp: npm's node-llama-cpp (pinned in llama_cpp/package.json,
// its prebuilt CPU build of llama.cpp) loads model.gguf with and without adapter.gguf, and its
// perplexity of eval.txt under RankScope's protocol is compared with RankScope's of the same
// variant; the float32 export's greedy sample from BOS equals the reference. Skipped, saying so,
// only when node/npm are missing or the npm registry cannot be reached to install the runtime.
#include "export_fixture.h"
#include "formats/gguf_model.h"
#include "gguf_fixture.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"

#include <ATen/ATen.h>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTest>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace rs::test;

namespace {

// The windows both runtimes evaluate (the fixture's experiments record 8).
constexpr int kWindows = 8;
// A float32 model computes the same function in both: only summation order differs.
constexpr double kFloat32Tolerance = 1e-3;
// llama.cpp multiplies Q8_0/Q4_0 weights with activations quantized to Q8_0 blocks (and the
// adapter's float32 factors with float32 activations), RankScope with float32 activations. On
// stories260K the differences measured are at most 0.04 % over all 93 windows (README, Q8_0 and
// Q4_0 bases with none/SVD/EoRA at ranks 4-16) and 0.09 % over these 8 (the Q8_0 base); 0.5 %
// leaves five times that for other builds while still catching a wrong row order, scale or block
// layout (each moves the perplexity by whole percents: EoRA r8 alone moves Q4_0's by 4 %).
constexpr double kQuantizedTolerance = 5e-3;

const fs::path kRuntimeDir = fs::path(RANKSCOPE_BINARY_DIR) / "llama-cpp-check";
const fs::path kSourceDir = fs::path(RANKSCOPE_SOURCE_DIR) / "tests" / "llama_cpp";

struct Run {
    int exitCode = -1;
    QString output; // stdout, then stderr (llama.cpp's warnings may come on either)
    QString stdOut;
};

Run run(const QString& program, const QStringList& args, int timeoutMs) {
    QProcess p;
    p.setWorkingDirectory(QString::fromStdString(kRuntimeDir.string()));
    p.start(program, args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {
            -1, QStringLiteral("timed out: ") + QString::fromUtf8(p.readAllStandardError()), {}};
    }
    const QString out = QString::fromUtf8(p.readAllStandardOutput());
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            out + QString::fromUtf8(p.readAllStandardError()), out};
}

// The last line of a check.mjs run as JSON.
QJsonObject resultOf(const Run& r) {
    const QStringList lines = r.stdOut.trimmed().split(QLatin1Char('\n'));
    return QJsonDocument::fromJson(lines.last().toUtf8()).object();
}

} // namespace

class TestLlamaCpp : public QObject, private ExportFixture {
    Q_OBJECT
private slots:
    void initTestCase();
    void float32ExportMatchesRankScope();
    void quantizedExportsMatchRankScope_data();
    void quantizedExportsMatchRankScope();
    void byteLevelVocabularyTokenizesAlike();

private:
    // Empty when installed; else why the runtime cannot be had (a skip) or the failure.
    QString install();
    double llamaCppPerplexity(const fs::path& model, const fs::path& adapter = {});
    double rankScopePerplexity(const fs::path& dir);

    QString m_node;
};

QString TestLlamaCpp::install() {
    m_node = QStandardPaths::findExecutable(QStringLiteral("node"));
    const QString npm = QStandardPaths::findExecutable(QStringLiteral("npm"));
    if (m_node.isEmpty() || npm.isEmpty())
        return QStringLiteral("skip: node and npm are not installed, so llama.cpp cannot be run");
    fs::create_directories(kRuntimeDir);
    for (const char* file : {"package.json", "check.mjs"})
        fs::copy_file(kSourceDir / file, kRuntimeDir / file, fs::copy_options::overwrite_existing);
    if (fs::exists(kRuntimeDir / "node_modules" / "node-llama-cpp" / "package.json"))
        return {};
    const Run installed = run(npm,
                              {QStringLiteral("install"), QStringLiteral("--no-audit"),
                               QStringLiteral("--no-fund"), QStringLiteral("--loglevel=error")},
                              15 * 60 * 1000);
    if (installed.exitCode == 0)
        return {};
    if (run(npm, {QStringLiteral("ping")}, 60 * 1000).exitCode != 0)
        return QStringLiteral("skip: the npm registry is unreachable, so node-llama-cpp cannot be "
                              "installed: ") +
               installed.output.left(400);
    return QStringLiteral("npm install failed: ") + installed.output;
}

void TestLlamaCpp::initTestCase() {
    QVERIFY(openFixture());
    const QString problem = install();
    if (problem.startsWith(QLatin1String("skip: ")))
        QSKIP(qPrintable(problem.mid(6)));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
}

double TestLlamaCpp::llamaCppPerplexity(const fs::path& model, const fs::path& adapter) {
    QStringList args{QStringLiteral("check.mjs"),
                     QStringLiteral("perplexity"),
                     QString::fromStdString(model.string()),
                     QString::fromStdString(dataPath("text/tinystories/eval.txt").string()),
                     QStringLiteral("--max-windows"),
                     QString::number(kWindows)};
    if (!adapter.empty())
        args << QStringLiteral("--lora") << QString::fromStdString(adapter.string());
    const Run r = run(m_node, args, 10 * 60 * 1000);
    if (r.exitCode != 0)
        throw rs::Error("llama.cpp failed on " + model.string() + ": " + r.output.toStdString());
    const QJsonObject result = resultOf(r);
    if (result.value(QStringLiteral("windows")).toInt() != kWindows)
        throw rs::Error("llama.cpp evaluated another number of windows: " + r.output.toStdString());
    return result.value(QStringLiteral("perplexity")).toDouble();
}

double TestLlamaCpp::rankScopePerplexity(const fs::path& dir) {
    rs::EvalOptions options;
    options.maxWindows = kWindows;
    const auto session = rs::ModelSession::open(dir);
    return rs::evaluateTextFile(*session, dataPath("text/tinystories/eval.txt"), options)
        .perplexity;
}

// The unchanged model as float32 GGUF: the same perplexity and the same greedy story.
void TestLlamaCpp::float32ExportMatchesRankScope() {
    const fs::path dir = m_root / "out" / "f32";
    writeUnchangedGguf(stories260K(), dir);

    const double rankScope = rankScopePerplexity(stories260K());
    const double llamaCpp = llamaCppPerplexity(dir / rs::gguf::kModelFile);
    qInfo("float32: RankScope %.5f, llama.cpp %.5f", rankScope, llamaCpp);
    QVERIFY(relative(llamaCpp, rankScope) < kFloat32Tolerance);

    const Run greedy =
        run(m_node,
            {QStringLiteral("check.mjs"), QStringLiteral("greedy"),
             QString::fromStdString((dir / rs::gguf::kModelFile).string()), QStringLiteral("256")},
            5 * 60 * 1000);
    QVERIFY2(greedy.exitCode == 0, qPrintable(greedy.output));
    // The published sample ends with the newline llama2.c's run prints after the text.
    const std::string reference = rs::readTextFile(stories260K() / "reference" / "greedy-256.txt");
    QCOMPARE(resultOf(greedy).value(QStringLiteral("text")).toString().toStdString() + "\n",
             reference);
}

void TestLlamaCpp::quantizedExportsMatchRankScope_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<bool>("adapterHelps"); // by far more than the tolerance, in RankScope
    QTest::newRow("Q8_0") << QStringLiteral("q8_0") << false;
    QTest::newRow("Q4_0") << QStringLiteral("q4_0") << true;
}

// The base alone and with EoRA's adapter, in llama.cpp and in RankScope.
void TestLlamaCpp::quantizedExportsMatchRankScope() {
    QFETCH(QString, method);
    QFETCH(bool, adapterHelps);
    const int64_t experiment = record(method.toStdString());
    const rs::ExportResult exported =
        exportTo(experiment, rs::ExportFormat::Gguf, method.toStdString());
    QVERIFY(exported.inMemory);
    const double withAdapter = llamaCppPerplexity(exported.path / rs::gguf::kModelFile,
                                                  exported.path / rs::gguf::kAdapterFile);

    // The base alone: RankScope reads the export without its adapter.
    const fs::path base = m_root / "out" / (method.toStdString() + "-base");
    fs::copy(exported.path, base);
    fs::remove(base / rs::gguf::kAdapterFile);
    const double baseRankScope = rankScopePerplexity(base);
    const double baseLlamaCpp = llamaCppPerplexity(base / rs::gguf::kModelFile);
    qInfo("%s: base RankScope %.5f llama.cpp %.5f; EoRA r8 RankScope %.5f llama.cpp %.5f",
          qPrintable(method), baseRankScope, baseLlamaCpp, exported.inMemory->perplexity,
          withAdapter);
    QVERIFY(relative(baseLlamaCpp, baseRankScope) < kQuantizedTolerance);
    QVERIFY(relative(withAdapter, exported.inMemory->perplexity) < kQuantizedTolerance);
    // Q4_0's error is large enough for EoRA to help clearly, in llama.cpp as in RankScope.
    if (adapterHelps)
        QVERIFY(withAdapter < baseLlamaCpp * (1 - kQuantizedTolerance));
}

// GPT-2's byte-level BPE (vocab.json + merges.txt) beside a small random-weight llama: written as
// llama.cpp's "gpt2" tokenizer, it cuts real text into the ids RankScope's tokenizer gives.
void TestLlamaCpp::byteLevelVocabularyTokenizesAlike() {
    const fs::path model = writeGpt2Llama(m_root / "gpt2-vocab-model", 7);
    const fs::path dir = m_root / "out" / "gpt2-vocab";
    writeUnchangedGguf(model, dir);

    // Lines of wikitext (numbers, punctuation, contractions, non-ASCII) and of the stories.
    const fs::path lines = m_root / "lines.txt";
    {
        std::ofstream out(lines);
        int64_t kept = 0;
        std::istringstream wiki(rs::readTextFile(dataPath("text/wikitext-2/wiki.test.raw")));
        for (std::string line; std::getline(wiki, line) && kept < 300;)
            if (line.size() > 1)
                out << line.substr(1) << "\n", ++kept; // without the leading space of every line
        out << "Lily's mom said, \"Don't touch it!\" 12345 apples cost $3.50.\n";
    }
    const Run run_ = run(m_node,
                         {QStringLiteral("check.mjs"), QStringLiteral("tokenize"),
                          QString::fromStdString((dir / rs::gguf::kModelFile).string()),
                          QString::fromStdString(lines.string())},
                         5 * 60 * 1000);
    QVERIFY2(run_.exitCode == 0, qPrintable(run_.output.right(2000)));
    const QJsonArray theirs = resultOf(run_).value(QStringLiteral("ids")).toArray();
    const auto tokenizer = rs::loadTokenizerForModel(model);
    std::istringstream text(rs::readTextFile(lines));
    int index = 0;
    for (std::string line; std::getline(text, line); ++index) {
        if (line.empty())
            continue;
        const std::vector<int32_t> ours = tokenizer->encode(line);
        std::vector<int32_t> llamaCpp;
        for (const QJsonValue& id : theirs.at(index).toArray())
            llamaCpp.push_back(id.toInt());
        const auto list = [](const std::vector<int32_t>& ids) {
            std::string out;
            for (int32_t id : ids)
                out += std::to_string(id) + " ";
            return out;
        };
        QVERIFY2(ours == llamaCpp,
                 (line + ": RankScope " + list(ours) + "llama.cpp " + list(llamaCpp)).c_str());
    }
    QCOMPARE(index, int(theirs.size()));
    QVERIFY(index > 250);
}

QTEST_GUILESS_MAIN(TestLlamaCpp)
#include "tst_llama_cpp.moc"
