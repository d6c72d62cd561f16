// Recording compression runs in the experiment store: every run is kept (done, failed,
// cancelled), and statistics of the original model are reused by a later run with the same model,
// text and calibration settings instead of calibrating again.
#include "pipeline/experiment_recorder.h"
#include "pipeline/layer_analysis.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"

#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <thread>

namespace {

rs::CompressRequest request(const std::string& method) {
    rs::CompressRequest r;
    r.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    r.inputs.calibTokens = 4096;
    r.compression = rs::MethodConfig::parse(method, rs::MethodKind::Compression);
    for (const char* comp : {"none", "eora"})
        r.compensations.push_back(rs::MethodConfig::parse(comp, rs::MethodKind::Compensation));
    r.ranks = {4};
    r.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    r.inputs.eval.maxWindows = 4;
    r.heldoutTokens = 1024;
    return r;
}

// The analysis on demand builds its own EoRA basis where the run reused the one it had built for
// its ranks: the same float64 arithmetic, so the curves agree to rounding relative to E(0).
constexpr double kOnDemandCurveTolerance = 1e-9;
// Spectra are stored in float32.
constexpr double kStoredSpectrumTolerance = 1e-6;

// A small run for the tests of runs at the same time: calibration, compression, no evaluation.
rs::CompressRequest quickRequest() {
    rs::CompressRequest r = request("rtn");
    r.inputs.calibTokens = 1024;
    r.compensations = {rs::MethodConfig::parse("none", rs::MethodKind::Compensation)};
    r.inputs.evalText.clear();
    r.heldoutTokens = 0;
    r.inputs.analyze = false;
    return r;
}

double largestGap(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size())
        return INFINITY;
    double gap = 0.0;
    for (size_t i = 0; i < a.size(); ++i)
        gap = std::max(gap, std::abs(a[i] - b[i]));
    return gap;
}

double stageSeconds(const rs::CompressResult& r, const std::string& stage) {
    for (const auto& [name, seconds] : r.stageSeconds)
        if (name == stage)
            return seconds;
    return -1;
}

} // namespace

class TestRecorder : public QObject {
    Q_OBJECT
private slots:
    void init();
    void secondRunReusesStatistics();
    void concurrentRunWaitsForTheStatistics();
    void concurrentRunGivesUpWaiting();
    void sequentialCalibrationIsNeverReused();
    void cancelledAndFailedRunsAreRecorded();
    void requestJsonRoundTrip();
    void cacheCapBoundsWhatIsSaved();
    void analysisOnDemandEqualsTheRunsOwn();
    void analysisOnDemandRefusesWhatItCannotRead();

private:
    // Runs a compression in another thread (with its own session, store connection and cache,
    // as another process would) that stops at its first block, while it holds the statistics'
    // writer lock, until `release` returns true or 60 s pass; then runs `second` here.
    void whileAnotherRunCalibrates(const std::function<bool()>& release,
                                   const std::function<void()>& second);

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<rs::ExperimentStore> m_store;
    std::unique_ptr<rs::ArtefactCache> m_cache;
    std::shared_ptr<rs::ModelSession> m_session;
};

void TestRecorder::init() {
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    const std::filesystem::path root = m_dir->path().toStdString();
    m_store = rs::ExperimentStore::open(root / "db" / "rankscope.db");
    m_cache = std::make_unique<rs::ArtefactCache>(root / "cache");
    if (!m_session)
        m_session = rs::test::openDemo();
}

void TestRecorder::secondRunReusesStatistics() {
    rs::RecordOptions options;
    options.name = "first";
    const rs::RecordedCompression first = rs::runRecordedCompression(
        *m_session, request("rtn:bits=3,group=32"), *m_store, *m_cache, options);
    QVERIFY(!first.calibrationReused);
    QVERIFY(!first.heldoutReused);
    options.name = "second";
    const rs::RecordedCompression second = rs::runRecordedCompression(
        *m_session, request("rtn:bits=3,group=32"), *m_store, *m_cache, options);
    QVERIFY(second.calibrationReused);
    QVERIFY(second.heldoutReused);
    // Saved float64 statistics are the computed ones: identical errors, identical perplexity.
    QCOMPARE(second.result.layers.size(), first.result.layers.size());
    for (size_t i = 0; i < first.result.layers.size(); ++i) {
        QCOMPARE(second.result.layers[i].errorAfter, first.result.layers[i].errorAfter);
        QCOMPARE(second.result.layers[i].heldoutErrorAfter,
                 first.result.layers[i].heldoutErrorAfter);
    }
    QCOMPARE(second.result.variants[1].perplexity->perplexity,
             first.result.variants[1].perplexity->perplexity);
    QVERIFY(stageSeconds(second.result, "calibrate") < stageSeconds(first.result, "calibrate"));

    const std::vector<rs::ExperimentSummary> list = m_store->listExperiments();
    QCOMPARE(list.size(), size_t(2));
    for (const rs::ExperimentSummary& s : list) {
        QCOMPARE(s.experiment.status, rs::ExperimentStatus::Done);
        QCOMPARE(s.layerCount, int64_t(35));
        QVERIFY(s.bestPerplexity.has_value());
        QVERIFY(s.experiment.calibrationArtefact.has_value());
    }
    const rs::ExperimentRecord stored = *m_store->experiment(second.experimentId);
    QVERIFY(stored.calibrationReused);
    QCOMPARE(stored.name, std::string("second"));
    QCOMPARE(*stored.calibrationArtefact,
             *m_store->experiment(first.experimentId)->calibrationArtefact);
    QCOMPARE(m_store->variants(second.experimentId).size(), size_t(2));
    QCOMPARE(m_store->evaluations(second.experimentId).size(), size_t(2));
    const std::vector<rs::LayerRecord> layers = m_store->layers(second.experimentId);
    QCOMPARE(layers.size(), size_t(35));
    QCOMPARE(layers.front().errorAfter, second.result.layers.front().errorAfter);
    QCOMPARE(layers.front().curveEora, second.result.layers.front().analysis->curves.eora);
    // Calibration and held-out statistics: two artefacts, both complete.
    const std::vector<rs::ArtefactRecord> artefacts = m_store->artefacts();
    QCOMPARE(artefacts.size(), size_t(2));
    for (const rs::ArtefactRecord& a : artefacts) {
        QVERIFY(m_cache->complete(a.key));
        QVERIFY(a.bytes > 0);
    }

    // Recalibrating on purpose computes (and saves) the statistics again.
    options.reuseStatistics = false;
    const rs::RecordedCompression third = rs::runRecordedCompression(
        *m_session, request("rtn:bits=3,group=32"), *m_store, *m_cache, options);
    QVERIFY(!third.calibrationReused);
    QCOMPARE(third.result.layers.back().errorAfter, first.result.layers.back().errorAfter);

    // A different text (the held-out one as calibration) is a different key.
    rs::CompressRequest other = request("rtn:bits=3,group=32");
    other.inputs.calibText = rs::test::dataPath("text/tinystories/eval.txt");
    other.inputs.evalText.clear();
    options.reuseStatistics = true;
    QVERIFY(!rs::runRecordedCompression(*m_session, other, *m_store, *m_cache, options)
                 .calibrationReused);
}

void TestRecorder::sequentialCalibrationIsNeverReused() {
    rs::CompressRequest r = request("rtn:bits=3,group=32");
    r.mode = rs::CalibrationMode::Sequential;
    r.inputs.evalText.clear();
    r.inputs.analyze = false;
    QVERIFY(!rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).calibrationReused);
    QVERIFY(!rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).calibrationReused);
    QVERIFY(m_store->artefacts().empty());
    QCOMPARE(m_store->listExperiments().size(), size_t(2));
}

void TestRecorder::cancelledAndFailedRunsAreRecorded() {
    // Cancelled after a few layers: recorded as cancelled with the finished layers, and the
    // partial statistics are not left in the cache for a later run to trust.
    rs::JobContext job;
    job.progress = [&job](const rs::ProgressEvent& e) {
        if (e.stage == "compress" && e.detail == "block 4/5") // blocks 0-2 done
            job.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(
        rs::CancelledError,
        rs::runRecordedCompression(*m_session, request("rtn"), *m_store, *m_cache, {}, job));
    std::vector<rs::ExperimentSummary> list = m_store->listExperiments();
    QCOMPARE(list.size(), size_t(1));
    QCOMPARE(list.front().experiment.status, rs::ExperimentStatus::Cancelled);
    QCOMPARE(list.front().layerCount, int64_t(21)); // 3 decoder layers x 7 linears
    QVERIFY(m_store->artefacts().empty());
    QVERIFY(m_cache->keys().empty());

    // A layer pattern that matches nothing is a mistake in the call: refused, nothing recorded.
    rs::CompressRequest unmatched = request("rtn");
    unmatched.inputs.layers.include = {"no_such_layer"};
    QVERIFY(rs::test::errorOf([&] {
                rs::runRecordedCompression(*m_session, unmatched, *m_store, *m_cache);
            }).find("no decoder linear layer matches") != std::string::npos);
    QCOMPARE(m_store->listExperiments().size(), size_t(1));

    // A request that fails inside the job (a text too short for one window): recorded as failed
    // with the message.
    const std::filesystem::path tiny =
        std::filesystem::path(m_dir->path().toStdString()) / "tiny.txt";
    std::ofstream(tiny) << "Once upon a time.\n";
    rs::CompressRequest bad = request("rtn");
    bad.inputs.calibText = tiny;
    const std::string message =
        rs::test::errorOf([&] { rs::runRecordedCompression(*m_session, bad, *m_store, *m_cache); });
    QVERIFY2(message.find("too short for one calibration window") != std::string::npos,
             message.c_str());
    list = m_store->listExperiments();
    QCOMPARE(list.size(), size_t(2));
    QCOMPARE(list.front().experiment.status, rs::ExperimentStatus::Failed);
    QVERIFY(list.front().experiment.error.find("too short for one calibration window") !=
            std::string::npos);

    // After the cancelled run, the next one calibrates (nothing half-written is reused).
    QVERIFY(!rs::runRecordedCompression(*m_session, request("rtn"), *m_store, *m_cache)
                 .calibrationReused);
}

void TestRecorder::analysisOnDemandEqualsTheRunsOwn() {
    rs::CompressRequest r = request("rtn:bits=3,group=32");
    r.inputs.evalText.clear();
    r.heldoutTokens = 0;
    const int64_t analysed =
        rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).experimentId;
    r.inputs.analyze = false;
    const int64_t lazy = rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).experimentId;

    const std::string pattern = "layers\\.1\\.mlp";
    const std::vector<std::string> done =
        rs::analyzeRecordedLayers(*m_session, *m_store, *m_cache, lazy, pattern);
    QCOMPARE(done,
             (std::vector<std::string>{"model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj",
                                       "model.layers.1.mlp.down_proj"}));
    const std::vector<rs::LayerRecord> reference = m_store->layers(analysed);
    const std::vector<rs::LayerRecord> onDemand = m_store->layers(lazy);
    QCOMPARE(onDemand.size(), reference.size());
    for (size_t i = 0; i < reference.size(); ++i) {
        const rs::LayerRecord& want = reference[i];
        const rs::LayerRecord& got = onDemand[i];
        QCOMPARE(got.name, want.name);
        if (std::find(done.begin(), done.end(), got.name) == done.end()) {
            QVERIFY2(got.curveEora.empty() && got.gramEigenvalues.empty(), got.name.c_str());
            continue;
        }
        const double energy = want.curveEora.front();
        QVERIFY2(largestGap(got.curveEora, want.curveEora) <= kOnDemandCurveTolerance * energy,
                 got.name.c_str());
        QVERIFY2(largestGap(got.curveSvd, want.curveSvd) <= kOnDemandCurveTolerance * energy,
                 got.name.c_str());
        for (auto series : {&rs::LayerRecord::gramEigenvalues, &rs::LayerRecord::weightSingular,
                            &rs::LayerRecord::errorSingular, &rs::LayerRecord::scaledErrorSingular})
            QVERIFY2(largestGap(got.*series, want.*series) <=
                         kStoredSpectrumTolerance * (want.*series).front(),
                     got.name.c_str());
        QCOMPARE(got.discardedModes, want.discardedModes);
    }
    // Analysed layers are not analysed again.
    QVERIFY(rs::analyzeRecordedLayers(*m_session, *m_store, *m_cache, lazy, pattern).empty());
}

void TestRecorder::analysisOnDemandRefusesWhatItCannotRead() {
    const auto refusal = [&](int64_t id) {
        return rs::test::errorOf(
            [&] { rs::analyzeRecordedLayers(*m_session, *m_store, *m_cache, id, "."); });
    };
    QVERIFY(refusal(42).find("experiment 42: no such experiment") != std::string::npos);

    rs::CompressRequest r = request("rtn:bits=3,group=32");
    r.inputs.evalText.clear();
    r.heldoutTokens = 0;
    r.inputs.analyze = false;
    r.mode = rs::CalibrationMode::Sequential;
    const int64_t sequential =
        rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).experimentId;
    QVERIFY(refusal(sequential).find("sequential calibration") != std::string::npos);

    r.mode = rs::CalibrationMode::Parallel;
    rs::RecordOptions unsaved;
    unsaved.saveStatistics = false;
    const int64_t uncached =
        rs::runRecordedCompression(*m_session, r, *m_store, *m_cache, unsaved).experimentId;
    QVERIFY(refusal(uncached).find("saved no calibration statistics") != std::string::npos);

    const int64_t pruned =
        rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).experimentId;
    for (const std::string& key : m_cache->keys())
        m_cache->remove(key);
    QVERIFY(refusal(pruned).find("no longer in") != std::string::npos);
    QVERIFY(m_store->layers(pruned).front().curveEora.empty()); // nothing half-stored
}

void TestRecorder::cacheCapBoundsWhatIsSaved() {
    // Statistics larger than the cap are not saved, and the run says why.
    qputenv("RANKSCOPE_CACHE_MAX_SIZE", "1k");
    const rs::RecordedCompression capped =
        rs::runRecordedCompression(*m_session, request("rtn"), *m_store, *m_cache);
    QVERIFY2(capped.statisticsNote.find("more than the cache's cap of 1.0 KiB") !=
                 std::string::npos,
             capped.statisticsNote.c_str());
    QVERIFY(!capped.calibrationReused);
    QCOMPARE(rs::test::directoryBytes(m_cache->directory()), uint64_t(0));

    // Under a cap that holds one set of statistics, saving a second drops the older one.
    const auto one = [&](const char* method) {
        qputenv("RANKSCOPE_CACHE_MAX_SIZE", "64M");
        rs::CompressRequest r = request(method);
        r.heldoutTokens = 0; // one artefact per run
        return rs::runRecordedCompression(*m_session, r, *m_store, *m_cache);
    };
    QVERIFY(one("rtn").statisticsNote.empty());
    const uint64_t first = rs::test::directoryBytes(m_cache->directory());
    QVERIFY(first > 0);
    qputenv("RANKSCOPE_CACHE_MAX_SIZE", QByteArray::number(qulonglong(first + first / 2)));
    rs::CompressRequest longer = request("rtn");
    longer.heldoutTokens = 0;
    longer.inputs.calibTokens = 2048; // other statistics: a second artefact of the same size
    QVERIFY(
        rs::runRecordedCompression(*m_session, longer, *m_store, *m_cache).statisticsNote.empty());
    QVERIFY(rs::test::directoryBytes(m_cache->directory()) <= first + first / 2);
    QCOMPARE(m_store->artefacts().size(), size_t(1));
    qunsetenv("RANKSCOPE_CACHE_MAX_SIZE");
}

void TestRecorder::requestJsonRoundTrip() {
    rs::CompressRequest r = request("gptq:bits=3,group=32,act_order=true");
    r.compensations.push_back(
        rs::MethodConfig::parse("asvd:alpha=0.25,factor_bits=8", rs::MethodKind::Compensation));
    r.plan = rs::RankPlan{6, {{"model.layers.0.mlp.down_proj", 2}}};
    r.inputs.layers.include = {"mlp"};
    r.inputs.layers.exclude = {"layers\\.4\\."};
    r.mode = rs::CalibrationMode::Sequential;
    r.inputs.eval.protocol = rs::Protocol::WikiText;
    r.inputs.evaluateBaseline = true;
    const std::string json = rs::requestToJson(r);
    const rs::CompressRequest back = rs::requestFromJson(json);
    QCOMPARE(rs::requestToJson(back), json);
    QCOMPARE(back.plan->rankFor("model.layers.0.mlp.down_proj"), int64_t(2));
    QCOMPARE(back.compensations.back().serialize(), r.compensations.back().serialize());

    QVERIFY(rs::test::errorOf([] {
                rs::requestFromJson("{\"calib_text\": 3}", "experiment 7");
            }).find("experiment 7: malformed request JSON") != std::string::npos);
    QVERIFY(rs::test::errorOf([&] {
                std::string broken = json;
                broken.replace(broken.find("gptq"), 4, "zzzz");
                rs::requestFromJson(broken, "experiment 8");
            }).find("zzzz") != std::string::npos);
}

QTEST_GUILESS_MAIN(TestRecorder)
#include "tst_recorder.moc"

void TestRecorder::whileAnotherRunCalibrates(const std::function<bool()>& release,
                                             const std::function<void()>& second) {
    std::mutex mutex;
    std::condition_variable changed;
    bool writing = false;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage != "compress")
            return;
        std::unique_lock lock(mutex);
        if (writing)
            return;
        writing = true;
        changed.notify_all();
        // `release` watches the other thread: poll it.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!release() && std::chrono::steady_clock::now() < deadline)
            changed.wait_for(lock, std::chrono::milliseconds(50));
    };
    const auto store = rs::ExperimentStore::open(m_store->path());
    rs::ArtefactCache cache(m_cache->directory());
    const auto session = rs::test::openDemo();
    std::string firstError;
    std::thread first([&] {
        try {
            rs::runRecordedCompression(*session, quickRequest(), *store, cache, {}, job);
        } catch (const std::exception& e) {
            firstError = e.what();
        }
    });
    {
        std::unique_lock lock(mutex);
        changed.wait_for(lock, std::chrono::seconds(60), [&] { return writing; });
    }
    second();
    changed.notify_all();
    first.join();
    QCOMPARE(firstError, std::string());
}

// Two runs calibrating the same model on the same text at once: the second waits, saying so,
// for the first's statistics and reuses them.
void TestRecorder::concurrentRunWaitsForTheStatistics() {
    std::atomic<bool> waited = false;
    rs::RecordedCompression second;
    whileAnotherRunCalibrates(
        [&] { return waited.load(); },
        [&] {
            rs::JobContext job;
            job.progress = [&](const rs::ProgressEvent& e) {
                if (e.stage == "wait" && e.detail.find("another run is calibrating") == 0)
                    waited = true;
            };
            second =
                rs::runRecordedCompression(*m_session, quickRequest(), *m_store, *m_cache, {}, job);
        });
    QVERIFY(waited);
    QVERIFY(second.calibrationReused);
    QVERIFY(second.statisticsNote.empty());
}

// A run that waited its limit calibrates on its own and says why it saved nothing.
void TestRecorder::concurrentRunGivesUpWaiting() {
    std::atomic<bool> done = false;
    rs::RecordedCompression second;
    whileAnotherRunCalibrates([&] { return done.load(); },
                              [&] {
                                  rs::RecordOptions options;
                                  options.statisticsWait = std::chrono::seconds(1);
                                  second = rs::runRecordedCompression(*m_session, quickRequest(),
                                                                      *m_store, *m_cache, options);
                                  done = true;
                              });
    QVERIFY(!second.calibrationReused);
    QVERIFY2(second.statisticsNote.find("another run was still writing them after 1 s") !=
                 std::string::npos,
             second.statisticsNote.c_str());
    QCOMPARE(m_store->experiment(second.experimentId)->status, rs::ExperimentStatus::Done);
}
