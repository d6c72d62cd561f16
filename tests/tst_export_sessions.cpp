// Exports of stored experiments on stories260K opened as model sessions, as rankscope-cli info and
// eval and the workbench do: every format scores its read-back and a hand-built model's perplexity
// exactly; a damaged export is named with what is wrong with it.
#include "export/export_job.h"
#include "export/source_model.h"
#include "export/verify_export.h"
#include "export_fixture.h"
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "model/llama.h"
#include "pipeline/compress_job.h"
#include "pipeline/session.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>

// After ATen, whose headers use `slots` as a name (Qt defines it as a macro).
#include "cli_run.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rs::test;

namespace {

// The perplexity of an export built by hand from loadExport(): every tensor of its checkpoint
// read into memory as float32 (GPTQ weights dequantized, low-rank pairs included), the export's
// own tokenizer. Independent of ModelSession's lazy path, which must give exactly this.
double handBuiltPerplexity(const fs::path& dir, const fs::path& text,
                           const rs::EvalOptions& options) {
    const rs::LoadedExport loaded = rs::loadExport(dir);
    rs::Checkpoint inMemory;
    inMemory.source = loaded.checkpoint.source;
    inMemory.config = loaded.checkpoint.config;
    for (const rs::NamedTensor& t : loaded.checkpoint.tensors)
        inMemory.tensors.push_back({t.name, loaded.checkpoint.read(t.name).to(at::kFloat).clone()});
    const rs::LlamaModel model(inMemory);
    const auto tokenizer = rs::loadTokenizerForModel(dir);
    const rs::TokenStream stream =
        rs::buildTokenStream(rs::readTextFile(text), rs::Protocol::TinyStories, *tokenizer);
    return rs::evaluatePerplexity(model, stream, options).perplexity;
}

// A copy of an export to damage.
fs::path copyOf(const fs::path& dir, const fs::path& to) {
    fs::remove_all(to);
    fs::copy(dir, to, fs::copy_options::recursive);
    return to;
}

} // namespace

class TestExportSessions : public QObject, private ExportFixture {
    Q_OBJECT
private slots:
    void initTestCase();
    void exportsOpenAsModelSessions();
    void damagedExportsAreNamed();

private:
    fs::path m_gptqExport; // a gptq+peft export of m_rtn4, to damage
};

void TestExportSessions::initTestCase() {
    QVERIFY(openFixture());
}

void TestExportSessions::exportsOpenAsModelSessions() {
    // ModelSession::open (what rankscope-cli info/eval/generate and the workbench use) reads every
    // format RankScope writes with its low-rank paths applied: the perplexity is evaluateExport()'s
    // and a hand-built model's exactly, and the in-memory compressed model's within float32
    // agreement (GPTQ stores float16 scales).
    const fs::path text = rs::test::dataPath("text/tinystories/eval.txt");
    rs::EvalOptions eval;
    eval.maxWindows = 8; // as recorded
    for (rs::ExportFormat format :
         {rs::ExportFormat::GptqPeft, rs::ExportFormat::Merged, rs::ExportFormat::Factorized}) {
        const std::string name = rs::exportFormatName(format);
        const rs::ExportResult r = exportTo(m_rtn4, format, "session-" + name);
        QVERIFY(r.inMemory && r.reloaded);
        if (format == rs::ExportFormat::GptqPeft)
            m_gptqExport = r.path;
        const auto session = rs::ModelSession::open(r.path);
        const rs::PerplexityResult opened = rs::evaluateTextFile(*session, text, eval);
        qInfo("%s: in memory %.6f, export read back %.6f, session %.6f", name.c_str(),
              r.inMemory->perplexity, r.reloaded->perplexity, opened.perplexity);
        // Bit for bit, not just close.
        QVERIFY(opened.perplexity == rs::evaluateExport(r.path, text, eval).perplexity);
        QVERIFY(opened.perplexity == r.reloaded->perplexity);
        QVERIFY(opened.perplexity == handBuiltPerplexity(r.path, text, eval));
        QCOMPARE(opened.predictedTokens, r.inMemory->predictedTokens);
        QVERIFY(relative(opened.perplexity, r.inMemory->perplexity) < kFloat32Agreement);

        // rankscope-cli eval and info open the export the same way.
        const QString dir = QString::fromStdString(r.path.string());
        const rs::test::CliRun cli = rs::test::runCli(
            {"eval", dir, "--text", QString::fromStdString(text.string()), "--max-windows", "8"});
        QVERIFY2(cli.exitCode == 0, qPrintable(cli.err));
        QVERIFY2(cli.out.startsWith(QString::asprintf("perplexity %.4f (tinystories, seq_len 512, "
                                                      "8 windows, 4,096 predicted tokens",
                                                      opened.perplexity)),
                 qPrintable(cli.out));
        const rs::test::CliRun info = rs::test::runCli({"info", dir});
        QVERIFY2(info.exitCode == 0, qPrintable(info.err));
        QVERIFY2(info.out.contains(
                     QString::fromStdString("format        " + name + " export (float32)\n")),
                 qPrintable(info.out));
        QVERIFY2(info.out.contains(QString::fromStdString(
                     "export        " + rs::describeExport(*session->exportSummary()) + "\n")),
                 qPrintable(info.out));

        const std::optional<rs::ExportSummary>& summary = session->exportSummary();
        QVERIFY(summary);
        QCOMPARE(summary->format, format);
        QVERIFY(summary->manifest);
        QCOMPARE(session->summary().format, name + " export");
        QCOMPARE(session->lowRankLayers(), format == rs::ExportFormat::Merged ? 0 : kLinears);
        const std::string description = rs::describeExport(*summary);
        if (format == rs::ExportFormat::GptqPeft) {
            QCOMPARE(description, std::string("gptq+peft export: GPTQ 4-bit, group 32 (20 linears "
                                              "quantized, 15 dense); LoRA adapter rank 8 on 35 "
                                              "linears"));
            // The adapter is the linears' own low-rank path, the base is dequantized.
            const rs::Linear& q = session->model().layer(0).linear(rs::LinearKind::Q);
            QCOMPARE(q.loraA.sizes().vec(), (std::vector<int64_t>{kRank, 64}));
            QVERIFY(!q.factorOnly());
        } else if (format == rs::ExportFormat::Factorized) {
            QCOMPARE(description, std::string("factorized export: 35 factorized linears, rank 8, "
                                              "0 without a dense base"));
        } else {
            QCOMPARE(description, std::string("merged export: dense W_c + B A per linear"));
        }
        // Compressing a model with low-rank paths would drop them: refused, naming the export.
        if (format != rs::ExportFormat::Merged) {
            rs::CompressRequest request;
            request.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
            const std::string error =
                rs::test::errorOf([&] { rs::runCompression(*session, request); });
            QVERIFY2(error.find(r.path.string() + ": is a " + name + " export") == 0,
                     error.c_str());
            QVERIFY(error.find("needs a model without low-rank paths") != std::string::npos);
        }
    }
    // A plain checkpoint is no export.
    QVERIFY(!m_session->exportSummary());
    QCOMPARE(m_session->lowRankLayers(), int64_t(0));

    // A factor-only layer (LoRD, Lillama) opens as B (A x) alone, without its zero base.
    const rs::SourceModel source = rs::readSourceModel(rs::test::stories260K());
    rs::ExportContent content;
    content.source = &source;
    at::manual_seed(14);
    const rs::LowRankFactors f{at::randn({32, 4}) * 0.01, at::randn({4, 64})};
    content.linears.push_back({linear(2, "k_proj"), at::Tensor(), std::nullopt, f});
    const fs::path dir = m_root / "session-factor-only";
    fs::create_directories(dir);
    rs::writeExport(dir, rs::ExportFormat::Factorized, content);
    const auto session = rs::ModelSession::open(dir);
    QCOMPARE(session->exportSummary()->factorOnlyLayers, int64_t(1));
    const rs::Linear& k = session->model().layer(2).linear(rs::LinearKind::K);
    QVERIFY(k.factorOnly());
    QVERIFY(at::equal(k.loraA, f.A) && at::equal(k.loraB, f.B));
    QVERIFY(rs::evaluateTextFile(*session, text, eval).perplexity ==
            handBuiltPerplexity(dir, text, eval));
}

void TestExportSessions::damagedExportsAreNamed() {
    if (m_gptqExport.empty()) // run alone
        m_gptqExport = exportTo(m_rtn4, rs::ExportFormat::GptqPeft, "damaged-source").path;
    const auto openError = [](const fs::path& dir) {
        return rs::test::errorOf([&] { rs::ModelSession::open(dir); });
    };
    const auto contains = [](const std::string& error, const std::string& part) {
        if (error.find(part) == std::string::npos)
            qWarning("'%s' does not contain '%s'", error.c_str(), part.c_str());
        return error.find(part) != std::string::npos;
    };

    // A truncated adapter file.
    fs::path dir = copyOf(m_gptqExport, m_root / "damaged-truncated");
    const fs::path adapter = dir / "adapter" / "adapter_model.safetensors";
    fs::resize_file(adapter, fs::file_size(adapter) - 100);
    std::string error = openError(dir);
    QVERIFY(contains(error, adapter.string() + ": tensor '"));
    QVERIFY(contains(error, "exceed the data buffer"));

    // GPTQ bits the reader cannot unpack.
    dir = copyOf(m_gptqExport, m_root / "damaged-bits");
    json config = readJson(dir / "config.json");
    config["quantization_config"]["bits"] = 5;
    std::ofstream(dir / "config.json") << config.dump(2);
    error = openError(dir);
    QVERIFY(contains(error, (dir / "config.json").string() + ": quantization_config has bits = 5"));
    QVERIFY(contains(error, "cannot unpack (2, 3, 4 or 8)"));

    // An adapter whose shapes do not fit the base.
    dir = copyOf(m_gptqExport, m_root / "damaged-shapes");
    const fs::path weights = dir / "adapter" / "adapter_model.safetensors";
    std::vector<rs::NamedTensor> tensors;
    {
        const rs::SafetensorsFile file = rs::SafetensorsFile::open(weights);
        for (const std::string& name : file.names())
            tensors.push_back({name, file.tensor(name)});
    }
    const std::string keyA = rs::loraTensorName(linear(1, "q_proj"), 'A');
    for (rs::NamedTensor& t : tensors)
        if (t.name == keyA)
            t.tensor = t.tensor.narrow(1, 0, 32).contiguous();
    rs::writeSafetensors(weights, tensors);
    error = openError(dir);
    QVERIFY(contains(error, weights.string() + ": the low-rank pair of " + linear(1, "q_proj") +
                                " (A [8, 32], B [64, 8]) does not fit its base weight [64, 64]"));

    // No tokenizer: the model opens (info works), evaluating it names the export, not the text.
    dir = copyOf(m_gptqExport, m_root / "damaged-tokenizer");
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().starts_with("tokenizer"))
            fs::remove(e.path());
    const auto session = rs::ModelSession::open(dir);
    QVERIFY(!session->hasTokenizer());
    error = rs::test::errorOf([&] {
        rs::evaluateTextFile(*session, rs::test::dataPath("text/tinystories/eval.txt"), {});
    });
    QVERIFY(contains(error, dir.string() + ": no tokenizer"));
    QVERIFY(contains(error, "--tokenizer"));
}

QTEST_GUILESS_MAIN(TestExportSessions)
#include "tst_export_sessions.moc"
