// Exports refused on stories260K: a directory that is not an earlier export, a full disk, an
// unknown variant or dtype, a grid no layer of which the GPTQ format can hold, a cancelled job,
// inputs changed since the run (weights, config, tokenizer, texts), a reproduction that scores
// differently. Every refusal leaves the disk as it was.
#include "export/export_job.h"
#include "export/space_estimate.h"
#include "export_fixture.h"
#include "formats/export_format.h"
#include "store/database.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "util/error.h"
#include "util/progress.h"
#include "util/text.h"

#include <QTemporaryDir>
#include <QTest>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace fs = std::filesystem;
using namespace rs::test;

namespace {

// Rewrites a file's bytes in place and sets its modification time back, as a careless script or a
// bit flip on disk would leave it.
void rewriteKeepingTime(const fs::path& file, const std::string& bytes) {
    const auto mtime = fs::last_write_time(file);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    fs::last_write_time(file, mtime);
}

std::string readBytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string flipOneBit(std::string bytes) {
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    return bytes;
}

std::set<std::string> entries(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

} // namespace

class TestExportRefusals : public QObject, private ExportFixture {
    Q_OBJECT
private slots:
    void initTestCase();
    void refusalsLeaveTheDiskAsItWas();
    void unsupportedBitsGroupCombinationIsRefused();
    void cancellationLeavesNothingBehind();
    void changedInputsAreNamed();
    void differentReproductionNamesTheVersions();
    void spaceAskedForFollowsWhatIsWritten();
};

void TestExportRefusals::initTestCase() {
    QVERIFY(openFixture());
    m_rtn8 = record("rtn:bits=8,group=-1");
}

void TestExportRefusals::refusalsLeaveTheDiskAsItWas() {
    const fs::path out = m_root / "out";
    // An existing directory is never overwritten without --force ...
    fs::create_directories(out / "taken");
    std::ofstream(out / "taken" / "precious.txt") << "keep me";
    rs::ExportRequest request;
    request.experimentId = m_rtn8;
    request.format = rs::ExportFormat::Merged;
    request.outDir = out / "taken";
    std::set<std::string> before = entries(out);
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("already exists") != std::string::npos);
    // ... and --force replaces only an earlier export.
    request.force = true;
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("is not an earlier export") != std::string::npos);
    QCOMPARE(rs::readTextFile(out / "taken" / "precious.txt"), std::string("keep me"));
    QCOMPARE(entries(out), before);

    request.outDir = out / "replaced";
    request.force = false;
    rs::exportExperiment(*m_store, request);
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("already exists") != std::string::npos);
    request.force = true;
    request.format = rs::ExportFormat::Factorized;
    rs::exportExperiment(*m_store, request);
    QVERIFY(readJson(out / "replaced" / "config.json").contains("rankscope_factorization"));

    // --force replaces what the earlier export wrote and nothing the user put beside it.
    const fs::path manifestPath = out / "replaced" / rs::kExportManifest;
    nlohmann::json manifest = readJson(manifestPath);
    QVERIFY(manifest["files"].size() == entries(out / "replaced").size() - 1);
    std::ofstream(out / "replaced" / "notes.txt") << "my notes";
    fs::create_directories(out / "replaced" / "mine");
    std::ofstream(out / "replaced" / "mine" / "run.sh") << "echo";
    const std::string extra = rs::test::errorOf([&] { rs::exportExperiment(*m_store, request); });
    QVERIFY2(extra.find("did not write (mine, mine/run.sh, notes.txt)") != std::string::npos,
             extra.c_str());
    QCOMPARE(rs::readTextFile(out / "replaced" / "notes.txt"), std::string("my notes"));
    fs::remove_all(out / "replaced" / "mine");
    fs::remove(out / "replaced" / "notes.txt");
    // A file the export wrote and the user edited since is the user's: named, not replaced,
    // whether the edit changed its size or not.
    const fs::path card = out / "replaced" / "README.md";
    const std::string written = rs::readTextFile(card);
    std::ofstream(card, std::ios::app) << "My notes on this export.\n";
    const std::string edited = rs::test::errorOf([&] { rs::exportExperiment(*m_store, request); });
    QVERIFY2(edited.find("changed since the earlier export wrote them (README.md)") !=
                 std::string::npos,
             edited.c_str());
    std::string sameSize = written;
    sameSize[0] = sameSize[0] == '#' ? '%' : '#';
    std::ofstream(card, std::ios::trunc) << sameSize;
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("their content hash is not") != std::string::npos);
    QCOMPARE(rs::readTextFile(card), sameSize);
    std::ofstream(card, std::ios::trunc) << written;
    // A manifest without a file list (older exports): the content hash decides.
    manifest.erase("files");
    std::ofstream(manifestPath) << manifest.dump();
    std::ofstream(out / "replaced" / "notes.txt") << "my notes";
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("does not account for") != std::string::npos);
    fs::remove(out / "replaced" / "notes.txt");
    rs::exportExperiment(*m_store, request);
    QVERIFY(readJson(manifestPath).contains("files"));

    // A full disk (simulated) is found before anything is written.
    before = entries(out);
    rs::ExportOptions full;
    full.freeSpace = [](const fs::path&) { return uint64_t(4096); };
    request.outDir = out / "nospace";
    request.force = false;
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request, {}, full);
            }).find("free space") != std::string::npos);
    QCOMPARE(entries(out), before);

    // Unknown variants and dtypes are named.
    request.variant = "svd@4";
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("has no variant 'svd@4' (it has eora@8)") != std::string::npos);
    request.variant.clear();
    request.dtype = "int8";
    QVERIFY(rs::test::errorOf([&] {
                rs::exportExperiment(*m_store, request);
            }).find("unsupported dtype 'int8'") != std::string::npos);
    QCOMPARE(entries(out), before);
}

void TestExportRefusals::unsupportedBitsGroupCombinationIsRefused() {
    // Group 128 divides neither d_in = 64 nor d_in = 172: no layer fits the GPTQ format.
    const int64_t id = record("rtn:bits=4,group=128");
    const std::set<std::string> before = entries(m_root / "out");
    const std::string error =
        rs::test::errorOf([&] { exportTo(id, rs::ExportFormat::GptqPeft, "group128"); });
    QVERIFY2(error.find("no layer can be stored in the GPTQ format") != std::string::npos,
             error.c_str());
    QVERIFY(error.find("not a multiple of the group size 128") != std::string::npos);
    QCOMPARE(entries(m_root / "out"), before);
    // The same experiment still exports merged.
    QVERIFY(exportTo(id, rs::ExportFormat::Merged, "group128-merged").reloaded);
}

void TestExportRefusals::cancellationLeavesNothingBehind() {
    const std::set<std::string> before = entries(m_root / "out");
    rs::ExportRequest request;
    request.experimentId = m_rtn4;
    request.format = rs::ExportFormat::GptqPeft;
    request.outDir = m_root / "out" / "cancelled";
    rs::JobContext job;
    job.progress = [&job](const rs::ProgressEvent& e) {
        if (e.stage == "write")
            job.cancel.cancel();
    };
    bool cancelled = false;
    try {
        rs::exportExperiment(*m_store, request, job);
    } catch (const rs::CancelledError&) {
        cancelled = true;
    }
    QVERIFY(cancelled);
    QCOMPARE(entries(m_root / "out"), before);
}

QTEST_GUILESS_MAIN(TestExportRefusals)
#include "tst_export_refusals.moc"

// Each input the run read, changed in place with its modification time set back, is named; put
// back, the export goes through again.
void TestExportRefusals::changedInputsAreNamed() {
    const fs::path model = m_root / "changed" / "model";
    const fs::path calib = m_root / "changed" / "calib.txt";
    fs::create_directories(model.parent_path());
    fs::copy(rs::test::stories260K(), model, fs::copy_options::recursive);
    fs::copy_file(rs::test::dataPath("text/tinystories/calib.txt"), calib);
    rs::CompressRequest r;
    r.inputs.calibText = calib;
    r.inputs.calibTokens = 1024;
    r.compression = rs::MethodConfig::parse("rtn:bits=8,group=-1", rs::MethodKind::Compression);
    r.compensations = {rs::MethodConfig::parse("svd", rs::MethodKind::Compensation)};
    r.ranks = {2};
    r.heldoutTokens = 0;
    r.inputs.analyze = false;
    const auto session = rs::ModelSession::open(model);
    const int64_t id = rs::runRecordedCompression(*session, r, *m_store, *m_cache).experimentId;
    QVERIFY(!m_store->experiment(id)->modelFiles.empty());

    rs::ExportRequest request;
    request.experimentId = id;
    request.format = rs::ExportFormat::Merged;
    request.outDir = m_root / "out" / "changed";
    const std::string ran = " since experiment " + std::to_string(id) + " ran";
    const auto refusal = [&] {
        return rs::test::errorOf([&] { rs::exportExperiment(*m_store, request); });
    };
    const auto expectRefused = [&](const fs::path& file, const std::string& changed,
                                   const std::string& named) {
        const std::string original = readBytes(file);
        rewriteKeepingTime(file, changed);
        const std::string error = refusal();
        rewriteKeepingTime(file, original);
        QVERIFY2(error.find(named) != std::string::npos, error.c_str());
        QVERIFY(!fs::exists(request.outDir));
    };
    expectRefused(model / "model.safetensors", flipOneBit(readBytes(model / "model.safetensors")),
                  model.string() + ": its weights changed" + ran);
    std::string config = rs::readTextFile(model / "config.json");
    config.replace(config.find("10000.0"), 7, "50000.0");
    expectRefused(model / "config.json", config,
                  "config.json changed (rope_theta: 10000.0 -> 50000.0)" + ran);
    expectRefused(model / "tokenizer.bin", flipOneBit(readBytes(model / "tokenizer.bin")),
                  "tokenizer.bin changed" + ran);
    expectRefused(calib, rs::readTextFile(calib) + "\nOnce upon a time.",
                  calib.string() + ": the calibration text changed" + ran);
    std::ofstream(model / "generation_config.json") << R"({"max_new_tokens": 64})";
    QVERIFY(refusal().find("generation_config.json was added" + ran) != std::string::npos);
    fs::remove(model / "generation_config.json");

    // A run recorded before model files were kept: its weights and texts are still checked, and
    // the user is told that the config and tokenizer are not.
    m_store->database().exec("UPDATE experiments SET model_files = '' WHERE id = " +
                             std::to_string(id));
    std::vector<std::string> warnings;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "warning")
            warnings.push_back(e.detail);
    };
    const rs::ExportResult result = rs::exportExperiment(*m_store, request, job);
    QCOMPARE(warnings.size(), size_t(1));
    QVERIFY2(warnings[0].find("those are not checked, its weights and texts are") !=
                 std::string::npos,
             warnings[0].c_str());
    QVERIFY(fs::exists(result.path / "model.safetensors"));
}

// With every input verified, a reproduction that scores differently blames the RankScope that
// computed it, not the user's files.
void TestExportRefusals::differentReproductionNamesTheVersions() {
    m_store->database().exec("UPDATE evaluations SET perplexity = perplexity * 1.01 "
                             "WHERE variant IS NOT NULL AND experiment_id = " +
                             std::to_string(m_rtn8));
    rs::ExportRequest request;
    request.experimentId = m_rtn8;
    request.format = rs::ExportFormat::Merged;
    request.outDir = m_root / "out" / "different";
    const std::string error = rs::test::errorOf([&] { rs::exportExperiment(*m_store, request); });
    QVERIFY2(error.find("its weights, model files and texts are unchanged, so the same RankScope "
                        "version") != std::string::npos,
             error.c_str());
    QVERIFY(!fs::exists(request.outDir));
}

// The space check asks for what the export writes, in each format: the finished files within a
// few percent, plus the scratch copies of the compressed linears and a small margin.
void TestExportRefusals::spaceAskedForFollowsWhatIsWritten() {
    const rs::SourceModel source = rs::readSourceModel(rs::test::stories260K());
    const rs::MethodConfig rtn4 =
        rs::MethodConfig::parse("rtn:bits=4,group=32", rs::MethodKind::Compression);
    const int64_t adapter = m_store->variants(m_rtn4).at(0).adapterParameters;
    QVERIFY(adapter > 0);
    for (const rs::ExportFormat format : {rs::ExportFormat::GptqPeft, rs::ExportFormat::Merged}) {
        const std::string name = rs::exportFormatName(format);
        const rs::SpaceEstimate estimate =
            rs::estimateExportSpace(source, format, "float32", rtn4, adapter);
        const rs::ExportResult written = exportTo(m_rtn4, format, "space-" + name);
        qInfo("%s: asked for %s, wrote %llu bytes", name.c_str(),
              rs::describeSpace(estimate).c_str(), static_cast<unsigned long long>(written.bytes));
        // The model card, manifest and headers are the margin's part.
        QVERIFY2(written.bytes <= estimate.exportBytes + estimate.marginBytes, name.c_str());
        QVERIFY2(written.bytes >= estimate.exportBytes * 9 / 10, name.c_str());
        QVERIFY2(estimate.total() <= 3 * written.bytes, name.c_str());
    }
}
