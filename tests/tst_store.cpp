// The experiment store's records: series blobs, status names, default locations, and what is
// written, read back, listed and deleted.
#include "store/blob.h"
#include "store/database.h"
#include "store/experiment_store.h"
#include "store/schema.h"
#include "store_samples.h"
#include "testdata.h"

#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sqlite3.h>

namespace fs = std::filesystem;
using rs::ExperimentKind;
using rs::ExperimentStatus;
using rs::ExperimentStore;
using rs::store::Database;
using namespace rs::test;

class TestStore : public QObject {
    Q_OBJECT
private slots:
    void blobs();
    void statusNames();
    void locations();
    void roundTrip();
    void listing();
    void deleteCascades();
    void artefacts();
};

void TestStore::blobs() {
    using rs::store::BlobType;
    const std::vector<double> values{1.0 / 3.0, -2.5e-300, 1e300,
                                     0.0,       -0.0,      std::numeric_limits<double>::infinity()};
    const auto f64 = rs::store::encodeSeries(values, BlobType::Float64);
    QCOMPARE(f64.size(), size_t(8 + 8 * values.size()));
    QCOMPARE(std::memcmp(f64.data(), "f64\0", 4), 0);
    QCOMPARE(std::to_integer<int>(f64[4]), int(values.size())); // little-endian count
    QVERIFY(rs::store::decodeSeries(f64.data(), f64.size(), "t") == values);
    const auto f32 = rs::store::encodeSeries(values, BlobType::Float32);
    QCOMPARE(f32.size(), size_t(8 + 4 * values.size()));
    QVERIFY(rs::store::decodeSeries(f32.data(), f32.size(), "t") == asFloat32(values));
    const auto nan = rs::store::encodeSeries({std::nan("")}, BlobType::Float64);
    QVERIFY(std::isnan(rs::store::decodeSeries(nan.data(), nan.size(), "t").at(0)));
    const auto empty = rs::store::encodeSeries({}, BlobType::Float32);
    QVERIFY(rs::store::decodeSeries(empty.data(), empty.size(), "t").empty());

    auto bad = f64;
    bad[0] = std::byte{'x'};
    QVERIFY(contains(errorOf([&] { rs::store::decodeSeries(bad.data(), bad.size(), "L1"); }),
                     "L1: series blob has an unknown type tag"));
    QVERIFY(contains(errorOf([&] { rs::store::decodeSeries(f64.data(), f64.size() - 1, "L2"); }),
                     "L2: series blob of 6 values should hold 56 bytes but holds 55"));
    QVERIFY(contains(errorOf([&] { rs::store::decodeSeries(f64.data(), 5, "L3"); }),
                     "L3: series blob of 5 bytes is shorter than its 8-byte header"));
}

void TestStore::statusNames() {
    for (const auto status :
         {ExperimentStatus::Running, ExperimentStatus::Done, ExperimentStatus::Failed,
          ExperimentStatus::Cancelled, ExperimentStatus::Interrupted})
        QCOMPARE(rs::parseStatus(rs::statusName(status)), std::optional(status));
    QCOMPARE(std::string(rs::statusName(ExperimentStatus::Interrupted)),
             std::string("interrupted"));
    QVERIFY(!rs::parseStatus("Done"));
    for (const auto kind : {ExperimentKind::Compress, ExperimentKind::LowRank})
        QCOMPARE(rs::parseExperimentKind(rs::experimentKindName(kind)), std::optional(kind));
    QCOMPARE(std::string(rs::experimentKindName(ExperimentKind::LowRank)), std::string("lowrank"));
    QVERIFY(!rs::parseExperimentKind("LoRD"));
}

void TestStore::locations() {
    struct Restore { // the environment ctest gives the other tests
        std::vector<std::pair<const char*, std::optional<QByteArray>>> saved;
        Restore() {
            for (const char* name :
                 {"HOME", "RANKSCOPE_DB", "RANKSCOPE_CACHE", "XDG_DATA_HOME", "XDG_CACHE_HOME"})
                saved.emplace_back(name, qEnvironmentVariableIsSet(name)
                                             ? std::optional(qgetenv(name))
                                             : std::nullopt);
        }
        ~Restore() {
            for (const auto& [name, value] : saved)
                value ? qputenv(name, *value) : qunsetenv(name);
        }
    } restore;
    qputenv("HOME", "/home/someone");
    qputenv("RANKSCOPE_DB", "/data/mine.db");
    qputenv("XDG_DATA_HOME", "/xdg/data");
    QCOMPARE(rs::defaultDatabasePath(), fs::path("/data/mine.db"));
    qputenv("RANKSCOPE_DB", "");
    QCOMPARE(rs::defaultDatabasePath(), fs::path("/xdg/data/rankscope/rankscope.db"));
    qputenv("XDG_DATA_HOME", "relative/data"); // the XDG specification says to ignore it
    QCOMPARE(rs::defaultDatabasePath(),
             fs::path("/home/someone/.local/share/rankscope/rankscope.db"));
    qunsetenv("XDG_DATA_HOME");
    qunsetenv("RANKSCOPE_DB");
    QCOMPARE(rs::defaultDatabasePath(),
             fs::path("/home/someone/.local/share/rankscope/rankscope.db"));

    qputenv("RANKSCOPE_CACHE", "/fast/cache");
    qputenv("XDG_CACHE_HOME", "/xdg/cache");
    QCOMPARE(rs::defaultCacheDirectory(), fs::path("/fast/cache"));
    qputenv("RANKSCOPE_CACHE", "");
    QCOMPARE(rs::defaultCacheDirectory(), fs::path("/xdg/cache/rankscope"));
    qputenv("XDG_CACHE_HOME", "");
    QCOMPARE(rs::defaultCacheDirectory(), fs::path("/home/someone/.cache/rankscope"));

    QCOMPARE(std::string(rs::rankscopeVersion()), std::string(RANKSCOPE_VERSION));
}

void TestStore::roundTrip() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "new/sub/rankscope.db"); // directories are created
    auto store = ExperimentStore::open(file);
    QCOMPARE(store->schemaVersion(), rs::store::currentSchemaVersion());

    auto model = sampleModel();
    const int64_t modelId = store->upsertModel(model);
    model.parameters = 999;
    QCOMPARE(store->upsertModel(model), modelId); // same path and hash: updated in place
    QCOMPARE(store->model(modelId)->parameters, int64_t(999));
    QCOMPARE(store->model(modelId)->kvHeads, int64_t(2));
    QVERIFY(store->upsertModel(sampleModel("/models/alpha", "ffff")) != modelId);
    QVERIFY(!store->model(12345));
    const int64_t calib = store->upsertDataset({0, "/text/calib.txt", "c0ffee", "wikitext", 4242});
    QCOMPARE(store->dataset(calib)->tokens, int64_t(4242));
    QCOMPARE(store->dataset(calib)->protocol, std::string("wikitext"));

    const std::string weights = "/models/alpha/model.safetensors";
    QVERIFY(!store->knownHash(weights, {10, 20, 30}));
    store->rememberHash(weights, {10, 20, 30}, "h1");
    QCOMPARE(store->knownHash(weights, {10, 20, 30}), std::optional<std::string>("h1"));
    QVERIFY(!store->knownHash(weights, {10, 21, 31})); // touched since
    QVERIFY(!store->knownHash(weights, {10, 20, 31})); // rewritten, its mtime set back
    store->rememberHash(weights, {11, 21, 31}, "h2");
    QVERIFY(!store->knownHash(weights, {10, 20, 30}));
    QCOMPARE(*store->knownHash(weights, {11, 21, 31}), std::string("h2"));

    auto record = sampleExperiment(modelId, calib);
    record.modelFiles = R"([{"name":"config.json","sha256":"ab"}])";
    const int64_t id = store->beginExperiment(record);
    QCOMPARE(store->experiment(id)->modelFiles, record.modelFiles);
    QCOMPARE(record.id, id);
    QCOMPARE(record.status, ExperimentStatus::Running);
    QCOMPARE(record.version, std::string(RANKSCOPE_VERSION));
    const QRegularExpression iso("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$");
    QVERIFY(iso.match(QString::fromStdString(record.created)).hasMatch());
    QCOMPARE(store->experiment(id)->status, ExperimentStatus::Running);
    QVERIFY(store->experiment(id)->finished.empty());

    const std::vector<rs::VariantRecord> variants{
        {0, "none", 0, "none", 0}, {1, "svd", 8, "svd@8", 1024}, {2, "eora", -1, "eora@plan", 77}};
    store->addVariants(id, variants);
    std::vector<rs::LayerRecord> layers{sampleLayer(0, 65), sampleLayer(1, 65, false)};
    layers[1].outputEnergy = std::nan(""); // stored as NULL, read back as NaN
    store->addLayers(id, layers);
    layers.push_back(sampleLayer(2, 129));
    store->addLayers(id, {layers[2]}); // appended after the first call's layers
    store->addEvaluation(id, evaluation(std::nullopt, 3.632));
    store->addEvaluation(id, evaluation(1, 4.25));
    const int64_t artefact = store->addArtefact({0, "k1", "statistics", "calib", 4096, {}, {}});
    store->setCalibrationArtefact(id, artefact, true);
    store->finishExperiment(id, ExperimentStatus::Done,
                            {{"load", 0.5}, {"calibrate", 12.25}, {"compress", 3.0}});
    store->rename(id, "renamed", "better notes");
    store->addExport({0, id, 1, "/out/merged", "merged", "beef", {}});
    store->addExport({0, id, std::nullopt, "/out/base", "gptq+peft", "", "2026-01-02T03:04:05Z"});

    const auto e = *store->experiment(id);
    QCOMPARE(e.name, std::string("renamed"));
    QCOMPARE(e.notes, std::string("better notes"));
    QCOMPARE(e.modelId, modelId);
    QCOMPARE(e.calibDatasetId, std::optional<int64_t>(calib));
    QVERIFY(!e.evalDatasetId);
    QCOMPARE(e.calibMode, record.calibMode);
    QCOMPARE(e.calibTokens, record.calibTokens);
    QCOMPARE(e.calibSeqLen, record.calibSeqLen);
    QCOMPARE(e.compression, record.compression);
    QVERIFY(e.compensations == record.compensations);
    QCOMPARE(e.rankPlan, record.rankPlan);
    QCOMPARE(e.request, record.request);
    QCOMPARE(e.kind, ExperimentKind::Compress);
    QCOMPARE(e.status, ExperimentStatus::Done);
    QVERIFY(e.error.empty());
    QCOMPARE(e.stageSeconds.size(), size_t(3)); // in run order, not sorted
    QCOMPARE(e.stageSeconds[1].first, std::string("calibrate"));
    QCOMPARE(e.stageSeconds[1].second, 12.25);
    QCOMPARE(e.created, record.created);
    QVERIFY(iso.match(QString::fromStdString(e.finished)).hasMatch());
    QCOMPARE(e.calibrationArtefact, std::optional<int64_t>(artefact));
    QVERIFY(e.calibrationReused);

    const auto readVariants = store->variants(id);
    QCOMPARE(readVariants.size(), size_t(3));
    QCOMPARE(readVariants[2].rank, int64_t(-1));
    QCOMPARE(readVariants[2].label, std::string("eora@plan"));
    QCOMPARE(readVariants[1].adapterParameters, int64_t(1024));

    const auto full = store->layers(id);
    QCOMPARE(full.size(), size_t(3));
    QVERIFY(sameLayer(layers[0], full[0], true));
    QVERIFY(std::isnan(full[1].outputEnergy));
    auto withoutNan = full[1];
    withoutNan.outputEnergy = layers[1].outputEnergy = 0.0;
    QVERIFY(sameLayer(layers[1], withoutNan, false));
    QVERIFY(sameLayer(layers[2], full[2], true));
    QCOMPARE(full[2].curveSvd.size(), size_t(129));
    const auto table = store->layers(id, false);
    QCOMPARE(table.size(), size_t(3));
    QVERIFY(sameLayer(layers[2], table[2], false)); // without the analysis series

    const auto evaluations = store->evaluations(id);
    QCOMPARE(evaluations.size(), size_t(2));
    QVERIFY(!evaluations[0].variant);
    QCOMPARE(evaluations[0].perplexity, 3.632);
    QCOMPARE(evaluations[1].variant, std::optional<int>(1));
    QCOMPARE(evaluations[1].tokens, int64_t(47616));

    const auto exports = store->exports(id);
    QCOMPARE(exports.size(), size_t(2));
    QCOMPARE(exports[0].variant, std::optional<int>(1));
    QCOMPARE(exports[0].format, std::string("merged"));
    QVERIFY(iso.match(QString::fromStdString(exports[0].created)).hasMatch());
    QVERIFY(!exports[1].variant);
    QCOMPARE(exports[1].created, std::string("2026-01-02T03:04:05Z"));

    // Writes to a missing experiment, or finishing as running, are refused clearly.
    QVERIFY(contains(errorOf([&] { store->addLayers(999, {sampleLayer(0, 5)}); }),
                     file.string() + ": no experiment 999"));
    QVERIFY(contains(errorOf([&] { store->finishExperiment(id, ExperimentStatus::Running, {}); }),
                     "cannot be finished as running"));
}

void TestStore::listing() {
    QTemporaryDir dir;
    auto store = ExperimentStore::open(pathIn(dir, "list.db"));
    const int64_t alpha = store->upsertModel(sampleModel("/models/alpha", "aa11"));
    const int64_t beta = store->upsertModel(sampleModel("/models/beta", "bb22"));
    const int64_t calib = store->upsertDataset({0, "/text/calib.txt", "c0", "tinystories", 9});

    auto r1 = sampleExperiment(alpha, calib);
    const int64_t e1 = store->beginExperiment(r1);
    store->addVariants(e1, {{0, "svd", 4, "svd@4", 1}, {1, "eora", 4, "eora@4", 1}});
    store->addLayers(e1, {sampleLayer(0, 9), sampleLayer(1, 9), sampleLayer(2, 9)});
    store->addEvaluation(e1, evaluation(std::nullopt, 6.0)); // the baseline does not count
    store->addEvaluation(e1, evaluation(0, 8.0));
    store->addEvaluation(e1, evaluation(1, 7.5));
    store->finishExperiment(e1, ExperimentStatus::Done, {});
    auto r2 = sampleExperiment(beta);
    const int64_t e2 = store->beginExperiment(r2);
    store->finishExperiment(e2, ExperimentStatus::Failed, {}, "out of memory");
    auto r3 = sampleExperiment(alpha);
    const int64_t e3 = store->beginExperiment(r3); // stays running
    auto r4 = sampleExperiment(beta);
    r4.kind = ExperimentKind::LowRank;
    const int64_t e4 = store->beginExperiment(r4);
    store->finishExperiment(e4, ExperimentStatus::Done, {});
    // Creation times that disagree with the id order: the listing follows the times.
    store->database().exec("UPDATE experiments SET created = CASE id WHEN " + std::to_string(e1) +
                           " THEN '2023-01-01T00:00:00Z' WHEN " + std::to_string(e2) +
                           " THEN '2021-01-01T00:00:00Z' WHEN " + std::to_string(e3) +
                           " THEN '2024-01-01T00:00:00Z' ELSE '2022-01-01T00:00:00Z' END");

    // Counts the statements the listing runs: one, whatever the number of experiments.
    int statements = 0;
    sqlite3_trace_v2(
        store->database().handle(), SQLITE_TRACE_STMT,
        [](unsigned, void* count, void*, void*) {
            ++*static_cast<int*>(count);
            return 0;
        },
        &statements);
    const auto all = store->listExperiments();
    sqlite3_trace_v2(store->database().handle(), 0, nullptr, nullptr);
    QCOMPARE(statements, 1);

    const auto ids = [](const std::vector<rs::ExperimentSummary>& list) {
        std::vector<int64_t> out;
        for (const auto& s : list)
            out.push_back(s.experiment.id);
        return out;
    };
    QVERIFY(ids(all) == (std::vector<int64_t>{e3, e1, e4, e2}));
    const auto& first = all[1];
    QCOMPARE(first.modelPath, std::string("/models/alpha"));
    QCOMPARE(first.calibPath, std::string("/text/calib.txt"));
    QCOMPARE(first.layerCount, int64_t(3));
    QCOMPARE(first.bestPerplexity, std::optional<double>(7.5));
    QCOMPARE(first.experiment.compensations, r1.compensations);
    QVERIFY(all[2].calibPath.empty());
    QVERIFY(!all[2].bestPerplexity);
    QCOMPARE(all[3].experiment.error, std::string("out of memory"));
    QCOMPARE(all[2].experiment.kind, ExperimentKind::LowRank); // recorded as begun
    QCOMPARE(store->experiment(e4)->kind, ExperimentKind::LowRank);
    QCOMPARE(store->experiment(e2)->kind, ExperimentKind::Compress);

    rs::ExperimentFilter filter;
    filter.model = "alpha"; // a substring of the path
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e3, e1}));
    filter.model = "BB2"; // a prefix of the content hash, in either case
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e4, e2}));
    filter.model = "b22"; // not a prefix
    QVERIFY(store->listExperiments(filter).empty());
    filter.model.clear();
    filter.status = ExperimentStatus::Done;
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e1, e4}));
    filter.status.reset();
    filter.kind = ExperimentKind::LowRank;
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e4}));
    filter.kind = ExperimentKind::Compress;
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e3, e1, e2}));
    filter.model = "beta";
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e2}));
    filter.model.clear();
    filter.kind.reset();
    filter.limit = 2;
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e3, e1}));
    filter.model = "/models/";
    filter.status = ExperimentStatus::Running;
    QVERIFY(ids(store->listExperiments(filter)) == (std::vector<int64_t>{e3}));
}

void TestStore::deleteCascades() {
    QTemporaryDir dir;
    auto store = ExperimentStore::open(pathIn(dir, "delete.db"));
    const int64_t model = store->upsertModel(sampleModel());
    const int64_t keep = completeExperiment(*store, model, 2);
    const int64_t artefact = store->addArtefact({0, "k", "statistics", "", 1, {}, {}});
    auto record = sampleExperiment(model);
    const int64_t id = store->beginExperiment(record);
    store->addVariants(id, {{0, "svd", 4, "svd@4", 1}});
    store->addLayers(id, {sampleLayer(0, 9), sampleLayer(1, 9)});
    store->addEvaluation(id, evaluation(0, 5.0));
    store->setCalibrationArtefact(id, artefact, false);

    QVERIFY(contains(errorOf([&] { store->deleteExperiment(id); }),
                     "experiment " + std::to_string(id) + " is still running"));
    store->finishExperiment(id, ExperimentStatus::Cancelled, {});
    store->addExport({0, id, 0, "/out/x", "merged", "", {}});
    QVERIFY(store->deleteExperiment(id));
    QVERIFY(!store->experiment(id));
    Database& db = store->database();
    for (const char* table : {"variants", "layers", "evaluations", "exports"})
        QCOMPARE(queryInteger(db, std::string("SELECT count(*) FROM ") + table +
                                      " WHERE experiment_id = " + std::to_string(id)),
                 int64_t(0));
    QVERIFY(store->findArtefact("k")); // artefacts outlive the experiments that used them
    QVERIFY(!store->deleteExperiment(id));
    QCOMPARE(store->layers(keep).size(), size_t(2));
    QCOMPARE(store->evaluations(keep).size(), size_t(3));
}

void TestStore::artefacts() {
    QTemporaryDir dir;
    auto store = ExperimentStore::open(pathIn(dir, "artefacts.db"));
    const int64_t a = store->addArtefact({0, "key-a", "statistics", "first", 100, {}, {}});
    const int64_t b = store->addArtefact({0, "key-b", "statistics", "second", 200, {}, {}});
    QCOMPARE(store->addArtefact({0, "key-a", "statistics", "rewritten", 150, {}, {}}), a);
    const auto found = store->findArtefact("key-a");
    QVERIFY(found);
    QCOMPARE(found->bytes, int64_t(150));
    QCOMPARE(found->description, std::string("rewritten"));
    QVERIFY(!store->findArtefact("key-c"));

    store->database().exec("UPDATE artefacts SET last_used = '2000-01-01T00:00:00Z'");
    store->touchArtefact(b);
    QVERIFY(store->findArtefact("key-b")->lastUsed > "2020");
    QCOMPARE(store->findArtefact("key-a")->lastUsed, std::string("2000-01-01T00:00:00Z"));
    const auto all = store->artefacts();
    QCOMPARE(all.size(), size_t(2));
    QCOMPARE(all[0].key, std::string("key-a")); // least recently used first

    const int64_t model = store->upsertModel(sampleModel());
    const int64_t id = completeExperiment(*store, model, 1);
    store->setCalibrationArtefact(id, a, false);
    store->removeArtefact(a);
    QVERIFY(!store->findArtefact("key-a"));
    const auto e = store->experiment(id);
    QVERIFY(e);
    QVERIFY(!e->calibrationArtefact); // the reference became NULL, the experiment stays
    QCOMPARE(store->layers(id).size(), size_t(1));
}

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
