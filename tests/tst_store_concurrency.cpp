// The experiment store shared between connections and processes: liveness locks, readers beside
// a writer, and a writer killed part-way.
#include "store/experiment_store.h"
#include "store_samples.h"
#include "testdata.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
using rs::ExperimentStatus;
using rs::ExperimentStore;
using namespace rs::test;

class TestStoreConcurrency : public QObject {
    Q_OBJECT
private slots:
    void liveLockKeepsRunning();
    void concurrentReadersAndWriter();
    void killedWriterIsInterrupted();
};

void TestStoreConcurrency::liveLockKeepsRunning() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "live.db");
    const fs::path locks = file.string() + ".locks";
    auto writer = ExperimentStore::open(file);
    const int64_t model = writer->upsertModel(sampleModel());
    auto record = sampleExperiment(model);
    const int64_t running = writer->beginExperiment(record);
    const fs::path lock = locks / ("experiment-" + std::to_string(running) + ".lock");
    QVERIFY(fs::exists(lock));
    const int64_t done = completeExperiment(*writer, model, 1);
    QVERIFY(!fs::exists(locks / ("experiment-" + std::to_string(done) + ".lock")));
    std::ofstream(locks / "experiment-999.lock").close(); // left by a crash after a commit

    {
        // Another connection (here in the same process, with its own open file description)
        // sees the lock held: the experiment is alive.
        auto other = ExperimentStore::open(file);
        QCOMPARE(other->experiment(running)->status, ExperimentStatus::Running);
        QVERIFY(fs::exists(lock));
        QVERIFY(!fs::exists(locks / "experiment-999.lock")); // stale: removed
        QVERIFY(contains(errorOf([&] { other->deleteExperiment(running); }), "still running"));
    }
    writer.reset(); // gone without finishing
    auto later = ExperimentStore::open(file);
    const auto e = later->experiment(running);
    QCOMPARE(e->status, ExperimentStatus::Interrupted);
    QVERIFY(!e->finished.empty());
    QVERIFY(contains(e->error, "ended before it finished"));
    QVERIFY(!fs::exists(lock));
    QCOMPARE(later->experiment(done)->status, ExperimentStatus::Done);
}

void TestStoreConcurrency::concurrentReadersAndWriter() {
    constexpr int kBatches = 3;
    constexpr int kBatch = 4;
    constexpr int kReaders = 3;
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "concurrent.db");
    auto writerStore = ExperimentStore::open(file);
    const int64_t model = writerStore->upsertModel(sampleModel());

    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::vector<std::string> problems;
    const auto report = [&](const std::string& what) {
        std::lock_guard lock(mutex);
        problems.push_back(what);
    };
    std::atomic<int> written{0};
    std::atomic<int64_t> reads{0};

    std::thread writer([&] {
        try {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
            while (std::chrono::steady_clock::now() < deadline) {
                auto record = sampleExperiment(model);
                const int64_t id = writerStore->beginExperiment(record);
                writerStore->addVariants(id, {{0, "svd", 4, "svd@4", 1}});
                for (int b = 0; b < kBatches; ++b) {
                    std::vector<rs::LayerRecord> batch;
                    for (int k = 0; k < kBatch; ++k)
                        batch.push_back(sampleLayer(b * kBatch + k, 65));
                    writerStore->addLayers(id, batch);
                }
                writerStore->addEvaluation(id, evaluation(0, 4.0));
                writerStore->finishExperiment(id, ExperimentStatus::Done, {{"compress", 0.1}});
                ++written;
            }
        } catch (const std::exception& e) {
            report(std::string("writer: ") + e.what());
        }
        stop = true;
    });
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r)
        readers.emplace_back([&, r] {
            try {
                auto store = ExperimentStore::open(file, {r % 2 == 1}); // read-only and not
                rs::ExperimentFilter fiveNewest;
                fiveNewest.limit = 5;
                while (!stop) {
                    for (const auto& s : store->listExperiments(fiveNewest)) {
                        const int64_t id = s.experiment.id;
                        const bool done = s.experiment.status == ExperimentStatus::Done;
                        if (done && s.layerCount != kBatches * kBatch)
                            report("listing: experiment done with " + std::to_string(s.layerCount) +
                                   " layers");
                        const auto layers = store->layers(id);
                        if (layers.size() % kBatch != 0)
                            report("half a batch of layers: " + std::to_string(layers.size()));
                        if (done && layers.size() != size_t(kBatches * kBatch))
                            report("done experiment with " + std::to_string(layers.size()));
                        for (const auto& l : layers)
                            if (l.curveSvd.size() != 65 || l.weightSingular.size() != 64)
                                report("incomplete layer " + l.name);
                        if (done && store->evaluations(id).size() != 1)
                            report("done experiment without its evaluation");
                        ++reads;
                    }
                }
            } catch (const std::exception& e) {
                report(std::string("reader: ") + e.what());
            }
        });
    writer.join();
    for (auto& t : readers)
        t.join();
    QVERIFY2(problems.empty(), problems.empty() ? "" : problems.front().c_str());
    QVERIFY(written > 5);
    QVERIFY(reads > 10);
    qInfo("%d experiments written, %lld experiment reads", written.load(),
          static_cast<long long>(reads.load()));
}

void TestStoreConcurrency::killedWriterIsInterrupted() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "killed.db");
    QProcess helper;
    helper.start(QStringLiteral(RANKSCOPE_STORE_WRITER_PATH),
                 {QString::fromStdString(file.string())});
    QVERIFY2(helper.waitForStarted(10000), qPrintable(helper.errorString()));
    // Bounded polling of the helper's output until a few layer batches are committed.
    int64_t killed = 0;
    int committed = 0;
    QString buffer;
    QElapsedTimer timer;
    timer.start();
    while (committed < 6 && timer.elapsed() < 20000 && helper.state() == QProcess::Running) {
        helper.waitForReadyRead(200);
        buffer += QString::fromUtf8(helper.readAllStandardOutput());
        for (const QString& line : buffer.split('\n', Qt::SkipEmptyParts)) {
            const QStringList words = line.split(' ');
            if (words.size() == 2 && words[0] == "begun")
                killed = words[1].toLongLong();
            if (words.size() == 2 && words[0] == "layers")
                committed = std::max(committed, words[1].toInt());
        }
    }
    QVERIFY2(committed >= 6, qPrintable(QString::fromUtf8(helper.readAllStandardError())));
    helper.kill(); // SIGKILL: no destructor, no finishExperiment
    QVERIFY(helper.waitForFinished(10000));
    QCOMPARE(helper.exitStatus(), QProcess::CrashExit);

    QCOMPARE(integrityCheck(file), std::string("ok"));
    auto store = ExperimentStore::open(file);
    const auto list = store->listExperiments();
    QCOMPARE(list.size(), size_t(2));
    const auto& complete = list[1].experiment.id == killed ? list[0] : list[1];
    QCOMPARE(complete.experiment.status, ExperimentStatus::Done);
    QCOMPARE(complete.layerCount, int64_t(8));
    QCOMPARE(complete.bestPerplexity, std::optional<double>(5.0));
    QCOMPARE(store->evaluations(complete.experiment.id).size(), size_t(2));
    const auto layers = store->layers(complete.experiment.id);
    for (size_t k = 0; k < layers.size(); ++k) {
        QCOMPARE(layers[k].name, "model.layers." + std::to_string(k) + ".mlp.down_proj");
        QCOMPARE(layers[k].curveSvd.size(), size_t(257));
        QCOMPARE(layers[k].curveSvd[0], double(k) + 1.0);
    }

    const auto e = store->experiment(killed);
    QVERIFY(e);
    QCOMPARE(e->status, ExperimentStatus::Interrupted);
    const auto partial = store->layers(killed);
    QVERIFY(int(partial.size()) >= committed); // it may have committed more before dying
    QCOMPARE(partial.size() % 2, size_t(0));   // whole addLayers() calls only
    for (size_t k = 0; k < partial.size(); ++k) {
        QCOMPARE(partial[k].block, int64_t(k));
        QCOMPARE(partial[k].curveEora.size(), size_t(257));
        QCOMPARE(partial[k].curveEora[1], double(k) + 0.25);
    }
    QVERIFY(!fs::exists(file.string() + ".locks/experiment-" + std::to_string(killed) + ".lock"));
}

QTEST_GUILESS_MAIN(TestStoreConcurrency)
#include "tst_store_concurrency.moc"
