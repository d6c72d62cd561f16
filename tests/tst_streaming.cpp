// The block-streaming engine: lazy opening, one block resident at a time, carried states that
// spill to disk under a memory budget, and the faults around them (a shard truncated after open,
// a disk too full to spill).
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/carried.h"
#include "model/llama.h"
#include "pipeline/compress_job.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"
#include "util/memory.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <filesystem>
#include <sys/resource.h>

namespace fs = std::filesystem;
using rs::test::errorOf;

namespace {

// A budget so small that every carried state spills (1 byte), in `dir`.
std::shared_ptr<rs::MemoryBudget> spillEverything(const fs::path& dir) {
    auto budget = std::make_shared<rs::MemoryBudget>();
    budget->bytes = 1;
    budget->spillDir = dir;
    return budget;
}

size_t filesIn(const fs::path& dir) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it)
        ++n;
    return n;
}

rs::PerplexityResult evalStories(const rs::ModelSession& session, const rs::JobContext& job,
                                 int64_t windows) {
    rs::EvalOptions options;
    options.maxWindows = windows;
    return rs::evaluateTextFile(session, rs::test::dataPath("text/tinystories/eval.txt"), options,
                                job);
}

} // namespace

class TestStreaming : public QObject {
    Q_OBJECT
private slots:
    void lazyOpenMapsWithoutCopying();
    void evaluationHoldsOneBlockAtATime();
    void pinnedBlocksKeepChangesUntilReset();
    void oneLinearIsReadWithoutItsBlock();
    void weightCacheEvictsLeastRecentlyUsed();
    void spilledStatesGiveTheSamePerplexity();
    void spilledCompressionGivesTheSameResults();
    void fullDiskWhileSpillingNamesDirectoryAndSize();
    void truncatedShardFailsInsteadOfCrashing();
    void byteSizesParse_data();
    void byteSizesParse();
};

void TestStreaming::lazyOpenMapsWithoutCopying() {
    const rs::Checkpoint lazy = rs::openCheckpoint(rs::test::stories260K());
    const rs::Checkpoint eager = rs::loadCheckpoint(rs::test::stories260K());
    QCOMPARE(lazy.tensors.size(), eager.tensors.size());
    QCOMPARE(lazy.mappedFiles.size(), lazy.tensors.size());
    QVERIFY(eager.mappedFiles.empty());
    for (size_t i = 0; i < lazy.tensors.size(); ++i) {
        const at::Tensor& t = lazy.tensors[i].tensor;
        QCOMPARE(lazy.tensors[i].name, eager.tensors[i].name);
        // A view of the mapping, not a copy.
        const auto& file = lazy.mappedFiles.at(lazy.tensors[i].name);
        QCOMPARE(t.data_ptr(), static_cast<const void*>(file->bytes(lazy.tensors[i].name).data()));
        QVERIFY(at::equal(t, eager.tensors[i].tensor));
    }
}

void TestStreaming::evaluationHoldsOneBlockAtATime() {
    const auto session = rs::test::openDemo();
    const rs::LlamaModel& model = session->model();
    QCOMPARE(model.residentLayers(), int64_t(0)); // nothing built at open
    int64_t mostResident = 0;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent&) {
        mostResident = std::max(mostResident, model.residentLayers());
    };
    const rs::PerplexityResult r = evalStories(*session, job, 4);
    QCOMPARE(mostResident, int64_t(1));
    QCOMPARE(model.residentLayers(), int64_t(0));
    QVERIFY(std::isfinite(r.perplexity));
}

void TestStreaming::pinnedBlocksKeepChangesUntilReset() {
    const auto session = rs::test::openDemo();
    rs::LlamaModel& model = session->model();
    const rs::PerplexityResult original = evalStories(*session, {}, 2);
    rs::Linear& down = model.layer(2).linear(rs::LinearKind::Down);
    down.weight = at::zeros_like(down.weight);
    const rs::PerplexityResult changed = evalStories(*session, {}, 2);
    QVERIFY(changed.perplexity != original.perplexity); // the pinned change was used
    QCOMPARE(model.residentLayers(), int64_t(1));       // and kept: block 2 is pinned
    model.resetLayer(2);
    QCOMPARE(model.residentLayers(), int64_t(0));
    QCOMPARE(evalStories(*session, {}, 2).perplexity, original.perplexity);
}

void TestStreaming::oneLinearIsReadWithoutItsBlock() {
    const auto session = rs::test::openDemo();
    rs::LlamaModel& model = session->model();
    const at::Tensor alone = model.linearWeight(3, rs::LinearKind::Up);
    QCOMPARE(model.residentLayers(), int64_t(0)); // read on its own: block 3 was not built
    const rs::LlamaModel& constModel = model;
    QVERIFY(at::equal(alone, constModel.layer(3).linear(rs::LinearKind::Up).weight));
    // A resident block's weight is the one returned, with the changes made to it.
    rs::Linear& up = model.layer(3).linear(rs::LinearKind::Up);
    up.weight = up.weight * 2.0;
    QVERIFY(at::equal(model.linearWeight(3, rs::LinearKind::Up), alone * 2.0));
    model.resetLayer(3);
    QVERIFY(errorOf([&] { model.linearWeight(5, rs::LinearKind::Q); }).find("no decoder layer 5") !=
            std::string::npos);
}

void TestStreaming::weightCacheEvictsLeastRecentlyUsed() {
    const rs::Checkpoint ckpt = rs::openCheckpoint(rs::test::stories260K());
    rs::LlamaModel model(ckpt);
    for (int64_t i = 0; i < model.numLayers(); ++i)
        model.decoderLayer(i, model.embed(at::ones({1, 4}, at::kLong)));
    QCOMPARE(model.residentLayers(), model.numLayers()); // unbounded by default
    model.setWeightCacheBytes(2 * model.blockBytes() + 4096);
    QCOMPARE(model.residentLayers(), int64_t(2));
    const at::Tensor reference = model.forward(at::ones({1, 8}, at::kLong));
    QCOMPARE(model.residentLayers(), int64_t(2));
    model.setWeightCacheBytes(0);
    QCOMPARE(model.residentLayers(), int64_t(0));
    QVERIFY(at::equal(model.forward(at::ones({1, 8}, at::kLong)), reference));
}

void TestStreaming::spilledStatesGiveTheSamePerplexity() {
    QTemporaryDir dir;
    const auto session = rs::test::openDemo();
    const rs::PerplexityResult inMemory = evalStories(*session, {}, 16);
    rs::JobContext job;
    job.memory = spillEverything(dir.path().toStdString());
    bool sawSpill = false;
    job.progress = [&](const rs::ProgressEvent&) { sawSpill |= job.memory->spilledBytes > 0; };
    const rs::PerplexityResult spilled = evalStories(*session, job, 16);
    QVERIFY(sawSpill);
    QVERIFY(job.memory->spilledTotal > 0);
    QCOMPARE(job.memory->spilledBytes.load(), int64_t(0));  // released at the end
    QCOMPARE(filesIn(dir.path().toStdString()), size_t(0)); // unlinked from the start
    QCOMPARE(spilled.perplexity, inMemory.perplexity);      // bit for bit
    QCOMPARE(spilled.predictedTokens, inMemory.predictedTokens);
}

void TestStreaming::spilledCompressionGivesTheSameResults() {
    QTemporaryDir dir;
    const auto session = rs::test::openDemo();
    rs::CompressRequest request;
    request.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    request.inputs.calibTokens = 2048;
    request.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    request.inputs.eval.maxWindows = 4;
    request.inputs.evaluateBaseline = true;
    request.inputs.analyze = false;
    request.compensations = {rs::MethodConfig::defaults("eora", rs::MethodKind::Compensation)};
    request.ranks = {4, 8};
    for (const rs::CalibrationMode mode :
         {rs::CalibrationMode::Parallel, rs::CalibrationMode::Sequential}) {
        request.mode = mode;
        const rs::CompressResult inMemory = rs::runCompression(*session, request);
        rs::JobContext job;
        job.memory = spillEverything(dir.path().toStdString());
        const rs::CompressResult spilled = rs::runCompression(*session, request, job);
        QVERIFY(job.memory->spilledTotal > 0);
        QCOMPARE(spilled.baseline->perplexity, inMemory.baseline->perplexity);
        QCOMPARE(spilled.variants.size(), inMemory.variants.size());
        for (size_t v = 0; v < spilled.variants.size(); ++v)
            QCOMPARE(spilled.variants[v].perplexity->perplexity,
                     inMemory.variants[v].perplexity->perplexity);
        for (size_t l = 0; l < spilled.layers.size(); ++l)
            QCOMPARE(spilled.layers[l].errorAfter, inMemory.layers[l].errorAfter);
        // The job leaves the model as it found it: nothing pinned, nothing resident.
        QCOMPARE(session->model().residentLayers(), int64_t(0));
    }
}

void TestStreaming::fullDiskWhileSpillingNamesDirectoryAndSize() {
    QTemporaryDir dir;
    // A file size limit makes the reservation fail as a full disk would (EFBIG, SIGXFSZ ignored).
    struct rlimit old {};
    getrlimit(RLIMIT_FSIZE, &old);
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
    rs::JobContext job;
    job.memory = spillEverything(dir.path().toStdString());
    std::string error;
    try {
        rs::CarriedStates states({1024, 1024}, at::TensorOptions().dtype(at::kFloat), job,
                                 "calibration hidden states");
    } catch (const rs::Error& e) {
        error = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, previous);
    QVERIFY2(error.rfind(dir.path().toStdString() + ": cannot spill the calibration hidden states: "
                                                    "4.0 MiB needed",
                         0) == 0,
             error.c_str());
    QCOMPARE(filesIn(dir.path().toStdString()), size_t(0));
    QCOMPARE(job.memory->spilledBytes.load(), int64_t(0));
}

void TestStreaming::truncatedShardFailsInsteadOfCrashing() {
    QTemporaryDir dir;
    const fs::path model = fs::path(dir.path().toStdString()) / "model";
    fs::copy(rs::test::stories260K(), model);
    const auto session = rs::ModelSession::open(model);
    fs::resize_file(model / "model.safetensors", 4096);
    const std::string error = errorOf([&] { evalStories(*session, {}, 1); });
    QVERIFY2(error.rfind((model / "model.safetensors").string() +
                             ": changed on disk after it was opened (4096 bytes now",
                         0) == 0,
             error.c_str());
}

void TestStreaming::byteSizesParse_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("bytes");
    QTest::newRow("plain") << "1048576" << qint64(1) * 1048576;
    QTest::newRow("G") << "2G" << (qint64(2) << 30);
    QTest::newRow("GiB") << "2GiB" << (qint64(2) << 30);
    QTest::newRow("fraction") << "1.5G" << qint64(3) * (qint64(1) << 29);
    QTest::newRow("M") << "800M" << qint64(800) * 1048576;
    QTest::newRow("k") << "64k" << qint64(64) * 1024;
    QTest::newRow("bad unit") << "2X" << qint64(-1);
    QTest::newRow("zero") << "0" << qint64(-1);
    QTest::newRow("negative") << "-1G" << qint64(-1);
    QTest::newRow("text") << "lots" << qint64(-1);
}

void TestStreaming::byteSizesParse() {
    QFETCH(QString, text);
    QFETCH(qint64, bytes);
    if (bytes < 0) {
        QVERIFY(errorOf([&] {
                    rs::parseByteSize(text.toStdString(), "--max-memory");
                }).rfind("--max-memory: '" + text.toStdString() + "'", 0) == 0);
    } else {
        QCOMPARE(qint64(rs::parseByteSize(text.toStdString(), "--max-memory")), bytes);
    }
}

QTEST_GUILESS_MAIN(TestStreaming)
#include "tst_streaming.moc"
