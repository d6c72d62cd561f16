// The experiment store's schema: migrations from every older version, and databases it refuses
// (newer, foreign, not SQLite, truncated) without changing them.
#include "store/blob.h"
#include "store/database.h"
#include "store/experiment_store.h"
#include "store/schema.h"
#include "store_samples.h"
#include "testdata.h"

#include <QString>
#include <QTemporaryDir>
#include <QTest>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using rs::ExperimentKind;
using rs::ExperimentStatus;
using rs::ExperimentStore;
using rs::store::Database;
using namespace rs::test;

class TestStoreSchema : public QObject {
    Q_OBJECT
private slots:
    void migrations();
    void kindBackFilled();
    void newerDatabaseRefused();
    void foreignDatabaseRefused();
    void notSqliteRefused();
};

namespace {

// Rows of every table that exists at `version`, written with that version's columns.
void insertRowsAt(Database& db, int version) {
    if (version >= 1) {
        db.exec("INSERT INTO models VALUES (1, '/models/old', 'abcd', 'llama', 2, 64, 172, 4, "
                "2, 512, 260032);"
                "INSERT INTO datasets VALUES (1, '/text/old.txt', 'ef01', 'wikitext', 999);"
                "INSERT INTO artefacts VALUES (1, 'old-key', 'statistics', 'old', 10, "
                "'2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z');"
                "INSERT INTO experiments (id, model_id, calib_dataset_id, calib_mode, "
                "calib_tokens, calib_seq_len, compression, compensations, rank_plan, request, "
                "status, stage_seconds, version, created, finished, calibration_artefact_id) "
                "VALUES (1, 1, 1, 'parallel', 2048, 256, 'rtn:bits=4', '[\"svd\"]', '{}', '{}', "
                "'done', '[[\"compress\",1.5]]', '0.0.9', '2024-01-01T00:00:00Z', "
                "'2024-01-01T00:10:00Z', 1);"
                "INSERT INTO variants VALUES (1, 0, 'svd', 4, 'svd@4', 64);"
                "INSERT INTO evaluations (experiment_id, variant, dataset_id, protocol, seq_len, "
                "tokens, perplexity, seconds) VALUES (1, 0, 1, 'wikitext', 256, 900, 9.5, 2.0);");
        auto layer = db.prepare("INSERT INTO layers (experiment_id, position, name, block, kind, "
                                "out_features, in_features, discarded_modes, ranks, curve_svd) "
                                "VALUES (1, 0, 'model.layers.0.q_proj', 0, 'q_proj', 8, 8, 0, "
                                "'[4]', ?)");
        layer.bindBlob(1, rs::store::encodeSeries({3.0, 2.0, 1.0}, rs::store::BlobType::Float64));
        layer.run();
    }
    if (version >= 2)
        db.exec("UPDATE experiments SET name = 'old name', notes = 'old notes';"
                "INSERT INTO exports VALUES (1, 1, 0, '/out/old', 'merged', 'aa', "
                "'2024-01-03T00:00:00Z');"
                "INSERT INTO file_hashes VALUES ('/models/old/w.bin', 5, 6, 'abcd');");
}

} // namespace

void TestStoreSchema::migrations() {
    const int current = rs::store::currentSchemaVersion();
    QVERIFY(current >= 2);
    QCOMPARE(rs::store::migrations().size(), size_t(current));
    for (int version = 0; version < current; ++version) {
        QTemporaryDir dir;
        const fs::path file = pathIn(dir, "old.db");
        {
            Database db(file, Database::Mode::ReadWrite, 1000);
            rs::store::migrateTo(db, version);
            QCOMPARE(rs::store::schemaVersionOf(db), version);
            insertRowsAt(db, version);
        }
        auto store = ExperimentStore::open(file);
        QCOMPARE(store->schemaVersion(), current);
        if (version == 0)
            continue; // an empty database: nothing to keep
        const auto e = store->experiment(1);
        QVERIFY2(e, qPrintable(QString("rows of version %1 lost").arg(version)));
        QCOMPARE(e->status, ExperimentStatus::Done);
        QCOMPARE(e->compensations, std::vector<std::string>{"svd"});
        QCOMPARE(e->stageSeconds.at(0).second, 1.5);
        QCOMPARE(e->calibrationArtefact, std::optional<int64_t>(1));
        QCOMPARE(e->name, std::string(version >= 2 ? "old name" : ""));
        QCOMPARE(e->kind, ExperimentKind::Compress); // its request has no kind
        QCOMPARE(store->model(1)->path, std::string("/models/old"));
        QCOMPARE(store->dataset(1)->tokens, int64_t(999));
        QCOMPARE(store->variants(1).size(), size_t(1));
        const auto layers = store->layers(1);
        QCOMPARE(layers.size(), size_t(1));
        QVERIFY(layers[0].curveSvd == (std::vector<double>{3.0, 2.0, 1.0}));
        QCOMPARE(store->evaluations(1).at(0).perplexity, 9.5);
        QCOMPARE(store->listExperiments().at(0).bestPerplexity, std::optional<double>(9.5));
        QCOMPARE(store->findArtefact("old-key")->bytes, int64_t(10));
        // What later versions added works on the migrated database.
        store->addExport({0, 1, 0, "/out/new", "factorized", "", {}});
        QCOMPARE(store->exports(1).size(), size_t(version >= 2 ? 2 : 1));
        QCOMPARE(e->modelFiles, std::string()); // not kept before version 6
        // The file-hash memo is a cache: rows without a status-change time are not trusted.
        QVERIFY(!store->knownHash("/models/old/w.bin", {5, 6, 0}));
        store->rememberHash("/w", {1, 2, 3}, "h");
        QCOMPARE(*store->knownHash("/w", {1, 2, 3}), std::string("h"));
        QVERIFY(!store->knownHash("/w", {1, 2, 4}));
        // Forward-only: asking for an older version changes nothing.
        rs::store::migrateTo(store->database(), 1);
        QCOMPARE(store->schemaVersion(), current);
    }
}

// Version 5 added the experiments' kind: the rows of an older database get theirs from the
// request JSON they were recorded with, where low-rank runs said {"kind": "lowrank"}.
void TestStoreSchema::kindBackFilled() {
    const std::vector<std::pair<std::string, ExperimentKind>> requests{
        {R"({"calib_mode":"parallel","compression":"rtn:bits=4","compensations":["eora"]})",
         ExperimentKind::Compress},
        {R"({"calib_text":"/c.txt","kind":"lowrank","method":"lord-data"})",
         ExperimentKind::LowRank},
        {R"({ "method": "lillama", "kind" : "lowrank" })", ExperimentKind::LowRank},
        {R"({"kind":"compress"})", ExperimentKind::Compress},
        {R"({"layers":{"kind":"lowrank"}})", ExperimentKind::Compress}, // not the request's key
        {R"(["kind","lowrank"])", ExperimentKind::Compress},
        {"", ExperimentKind::Compress}, // recorded without a request
        {"not JSON at all", ExperimentKind::Compress},
    };
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "v4.db");
    {
        Database db(file, Database::Mode::ReadWrite, 1000);
        rs::store::migrateTo(db, 4);
        db.exec("INSERT INTO models VALUES (1, '/models/old', 'abcd', 'llama', 2, 64, 172, 4, 2, "
                "512, 260032)");
        auto insert = db.prepare(
            "INSERT INTO experiments (id, model_id, calib_mode, calib_tokens, calib_seq_len, "
            "compression, request, status, version, created) "
            "VALUES (?, 1, 'parallel', 2048, 256, 'rtn:bits=4', ?, 'done', '0.0.9', ?)");
        for (size_t i = 0; i < requests.size(); ++i) {
            const std::string created = "2024-01-0" + std::to_string(i + 1) + "T00:00:00Z";
            insert.bind(1, int64_t(i + 1)).bind(2, requests[i].first).bind(3, created).run();
            insert.reset();
        }
    }
    auto store = ExperimentStore::open(file);
    QCOMPARE(store->schemaVersion(), rs::store::currentSchemaVersion());
    std::vector<int64_t> lowRank;
    for (size_t i = 0; i < requests.size(); ++i) {
        const int64_t id = int64_t(i + 1);
        QVERIFY2(store->experiment(id)->kind == requests[i].second,
                 qPrintable(QString::fromStdString("request " + requests[i].first)));
        QCOMPARE(store->experiment(id)->request, requests[i].first); // left as it was
        if (requests[i].second == ExperimentKind::LowRank)
            lowRank.insert(lowRank.begin(), id); // newest first
    }
    rs::ExperimentFilter filter;
    filter.kind = ExperimentKind::LowRank;
    std::vector<int64_t> listed;
    for (const rs::ExperimentSummary& s : store->listExperiments(filter))
        listed.push_back(s.experiment.id);
    QVERIFY(listed == lowRank);
    // The column admits the kinds this build knows only.
    QVERIFY(contains(errorOf([&] {
                         store->database().exec(
                             "UPDATE experiments SET kind = 'lord' WHERE id = 1");
                     }),
                     "CHECK constraint failed"));
}

void TestStoreSchema::newerDatabaseRefused() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "newer.db");
    const int newer = rs::store::currentSchemaVersion() + 3;
    {
        auto store = ExperimentStore::open(file);
        completeExperiment(*store, store->upsertModel(sampleModel()), 2);
        store->database().exec("PRAGMA user_version = " + std::to_string(newer));
    }
    const FileState before = stateOf(file);
    for (const bool readOnly : {false, true}) {
        const std::string error = errorOf([&] {
            ExperimentStore::open(file, {readOnly, std::chrono::milliseconds(500)});
        });
        QVERIFY2(contains(error, file.string() + ": the database has schema version " +
                                     std::to_string(newer) + ", newer than version " +
                                     std::to_string(rs::store::currentSchemaVersion())),
                 error.c_str());
        QVERIFY(contains(error, "newer RankScope"));
    }
    QVERIFY(stateOf(file) == before);
}

void TestStoreSchema::foreignDatabaseRefused() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "foreign.db");
    {
        Database db(file, Database::Mode::ReadWrite, 1000);
        db.exec("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('Ada');");
    }
    const fs::path versioned = pathIn(dir, "versioned.db");
    {
        Database db(versioned, Database::Mode::ReadWrite, 1000);
        db.exec("CREATE TABLE things (x); PRAGMA user_version = 1;");
    }
    for (const fs::path& f : {file, versioned}) {
        const FileState before = stateOf(f);
        for (const bool readOnly : {false, true}) {
            const std::string error = errorOf([&] { ExperimentStore::open(f, {readOnly}); });
            QVERIFY2(contains(error, f.string() + ": not a RankScope database"), error.c_str());
        }
        QVERIFY(stateOf(f) == before); // not migrated, not switched to WAL
        QVERIFY(!fs::exists(f.string() + ".locks"));
    }
}

void TestStoreSchema::notSqliteRefused() {
    QTemporaryDir dir;
    const fs::path text = pathIn(dir, "notes.db");
    {
        std::ofstream out(text);
        for (int i = 0; i < 200; ++i)
            out << "this is a text file, not a database\n";
    }
    const fs::path real = pathIn(dir, "real.db");
    {
        auto store = ExperimentStore::open(real);
        const int64_t model = store->upsertModel(sampleModel());
        for (int i = 0; i < 4; ++i)
            completeExperiment(*store, model, 8, 257);
    }
    QVERIFY(!fs::exists(real.string() + "-wal")); // checkpointed on close
    const auto size = fs::file_size(real);
    uintmax_t page = 0;
    {
        Database db(real, Database::Mode::ReadOnly, 100);
        page = uintmax_t(queryInteger(db, "PRAGMA page_size"));
    }
    const auto truncated = [&](const char* name, uintmax_t bytes) {
        const fs::path copy = pathIn(dir, name);
        fs::copy_file(real, copy);
        fs::resize_file(copy, bytes);
        return copy;
    };
    const std::vector<std::pair<fs::path, std::string>> cases{
        {text, "not a SQLite database"},
        // Whole pages missing: told by the page count in the header.
        {truncated("half.db", size / 2 / page * page), "the database file is truncated"},
        {truncated("odd.db", size / 2 + 100), "the database file is truncated"},
        {truncated("header.db", 60), "the database file is truncated"},
    };
    for (const auto& [file, problem] : cases) {
        const FileState before = stateOf(file);
        for (const bool readOnly : {false, true}) {
            const std::string error = errorOf([&] { ExperimentStore::open(file, {readOnly}); });
            QVERIFY2(contains(error, file.string() + ": " + problem), error.c_str());
        }
        QVERIFY(stateOf(file) == before);
    }
}

QTEST_GUILESS_MAIN(TestStoreSchema)
#include "tst_store_schema.moc"
