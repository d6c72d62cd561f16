#include "store/blob.h"
#include "store/database.h"
#include "store/experiment_store.h"
#include "store/schema.h"
#include "testdata.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using rs::ExperimentStatus;
using rs::ExperimentStore;
using rs::store::Database;
using rs::test::errorOf;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

fs::path pathIn(const QTemporaryDir& dir, const char* name) {
    return fs::path(dir.path().toStdString()) / name;
}

// A file's bytes and modification time: "never modified" means both are unchanged.
struct FileState {
    std::string bytes;
    fs::file_time_type mtime;
    bool operator==(const FileState&) const = default;
};

FileState stateOf(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::string(std::istreambuf_iterator<char>(in), {}), fs::last_write_time(file)};
}

int64_t queryInteger(Database& db, const std::string& sql) {
    auto s = db.prepare(sql);
    return s.step() ? s.integer(0) : -1;
}

std::string integrityCheck(const fs::path& file) {
    Database db(file, Database::Mode::ReadOnly, 1000);
    auto s = db.prepare("PRAGMA integrity_check");
    s.step();
    return s.text(0);
}

rs::ModelRecord sampleModel(const std::string& path = "/models/alpha",
                            const std::string& hash = "aa11bb22cc33") {
    return {0, path, hash, "llama", 2, 64, 172, 4, 2, 512, 260032};
}

rs::ExperimentRecord sampleExperiment(int64_t model, std::optional<int64_t> calib = {}) {
    rs::ExperimentRecord e;
    e.name = "first try";
    e.notes = "3-bit";
    e.modelId = model;
    e.calibDatasetId = calib;
    e.calibMode = "parallel";
    e.calibTokens = 8192;
    e.calibSeqLen = 512;
    e.compression = "rtn:bits=3,group=32";
    e.compensations = {"none", "svd", "eora:factor_bits=4"};
    e.rankPlan = R"({"ranks":[4,8]})";
    e.request = R"({"method":"rtn:bits=3,group=32","ranks":[4,8]})";
    return e;
}

// Layer k with random values; curves of `length` entries, spectra of length - 1.
rs::LayerRecord sampleLayer(int k, int length, bool analysis = true) {
    std::mt19937 random(static_cast<unsigned>(k + 1));
    std::uniform_real_distribution<double> uniform(1e-3, 10.0);
    const auto series = [&](int n) {
        std::vector<double> v(static_cast<size_t>(n));
        for (double& x : v)
            x = uniform(random);
        return v;
    };
    rs::LayerRecord l;
    l.name = "model.layers." + std::to_string(k / 7) + ".proj" + std::to_string(k % 7);
    l.block = k / 7;
    l.kind = "proj" + std::to_string(k % 7);
    l.outFeatures = length - 1;
    l.inFeatures = 2 * (length - 1);
    l.sparsity = 0.5;
    l.discardedModes = k;
    l.outputEnergy = uniform(random);
    l.errorEnergy = uniform(random);
    l.heldoutOutputEnergy = uniform(random);
    l.heldoutErrorEnergy = uniform(random);
    l.ranks = {4, 8, 16};
    l.errorAfter = series(3);
    l.heldoutErrorAfter = series(3);
    if (analysis) {
        l.curveSvd = series(length);
        l.curveEora = series(length);
        l.gramEigenvalues = series(length - 1);
        l.weightSingular = series(length - 1);
        l.errorSingular = series(length - 1);
        l.scaledErrorSingular = series(length - 1);
    }
    return l;
}

std::vector<double> asFloat32(const std::vector<double>& values) {
    std::vector<double> out;
    for (const double v : values)
        out.push_back(static_cast<float>(v));
    return out;
}

// Curves are stored exactly (float64), spectra as float32.
bool sameLayer(const rs::LayerRecord& a, const rs::LayerRecord& b, bool analysis) {
    const bool base = a.name == b.name && a.block == b.block && a.kind == b.kind &&
                      a.outFeatures == b.outFeatures && a.inFeatures == b.inFeatures &&
                      a.sparsity == b.sparsity && a.discardedModes == b.discardedModes &&
                      a.outputEnergy == b.outputEnergy && a.errorEnergy == b.errorEnergy &&
                      a.heldoutOutputEnergy == b.heldoutOutputEnergy &&
                      a.heldoutErrorEnergy == b.heldoutErrorEnergy && a.ranks == b.ranks &&
                      a.errorAfter == b.errorAfter && a.heldoutErrorAfter == b.heldoutErrorAfter;
    if (!analysis)
        return base && b.curveSvd.empty() && b.gramEigenvalues.empty();
    return base && a.curveSvd == b.curveSvd && a.curveEora == b.curveEora &&
           asFloat32(a.gramEigenvalues) == b.gramEigenvalues &&
           asFloat32(a.weightSingular) == b.weightSingular &&
           asFloat32(a.errorSingular) == b.errorSingular &&
           asFloat32(a.scaledErrorSingular) == b.scaledErrorSingular;
}

rs::EvaluationRecord evaluation(std::optional<int> variant, double perplexity) {
    rs::EvaluationRecord e;
    e.variant = variant;
    e.protocol = "tinystories";
    e.seqLen = 512;
    e.tokens = 47616;
    e.perplexity = perplexity;
    e.seconds = 1.25;
    return e;
}

// One finished experiment with two variants, `layers` layers and evaluations.
int64_t completeExperiment(ExperimentStore& store, int64_t model, int layers, int length = 33) {
    auto record = sampleExperiment(model);
    const int64_t id = store.beginExperiment(record);
    store.addVariants(id, {{0, "svd", 4, "svd@4", 1000}, {1, "eora", 8, "eora@8", 2000}});
    std::vector<rs::LayerRecord> batch;
    for (int k = 0; k < layers; ++k)
        batch.push_back(sampleLayer(k, length));
    store.addLayers(id, batch);
    store.addEvaluation(id, evaluation(std::nullopt, 3.6));
    store.addEvaluation(id, evaluation(0, 4.5));
    store.addEvaluation(id, evaluation(1, 4.1));
    store.finishExperiment(id, ExperimentStatus::Done, {{"compress", 2.0}});
    return id;
}

// --- A VFS that runs out of space after a byte budget -----------------------------------------
// Wraps the default VFS; every xWrite beyond the budget fails with SQLITE_FULL, as on a full disk.
namespace fulldisk {

sqlite3_vfs* g_base = nullptr;
std::atomic<int64_t> g_budget{-1}; // bytes left to write; -1: unlimited
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;

struct File {
    sqlite3_file base;
    sqlite3_file* real;
};

sqlite3_file* real(sqlite3_file* f) {
    return reinterpret_cast<File*>(f)->real;
}

int write(sqlite3_file* f, const void* data, int size, sqlite3_int64 offset) {
    int64_t left = g_budget.load();
    while (left >= 0) {
        if (left < size)
            return SQLITE_FULL;
        if (g_budget.compare_exchange_weak(left, left - size))
            break;
    }
    return real(f)->pMethods->xWrite(real(f), data, size, offset);
}

int open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* outFlags) {
    auto* shim = reinterpret_cast<File*>(file);
    shim->real = reinterpret_cast<sqlite3_file*>(shim + 1);
    const int rc = g_base->xOpen(g_base, name, shim->real, flags, outFlags);
    shim->base.pMethods = shim->real->pMethods ? &g_methods : nullptr;
    return rc;
}

void install() {
    g_base = sqlite3_vfs_find(nullptr);
    g_vfs = *g_base;
    g_vfs.zName = "rankscope-full-disk";
    g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_base->szOsFile;
    g_vfs.pNext = nullptr;
    g_vfs.xOpen = open;
    // The base's other methods may read their own pAppData: give them the base object.
    g_vfs.xDelete = [](sqlite3_vfs*, const char* n, int s) {
        return g_base->xDelete(g_base, n, s);
    };
    g_vfs.xAccess = [](sqlite3_vfs*, const char* n, int f, int* r) {
        return g_base->xAccess(g_base, n, f, r);
    };
    g_vfs.xFullPathname = [](sqlite3_vfs*, const char* n, int size, char* out) {
        return g_base->xFullPathname(g_base, n, size, out);
    };
    g_methods = {};
    g_methods.iVersion = 3; // with the shared-memory (WAL) and mmap methods
    g_methods.xClose = [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); };
    g_methods.xRead = [](sqlite3_file* f, void* d, int n, sqlite3_int64 o) {
        return real(f)->pMethods->xRead(real(f), d, n, o);
    };
    g_methods.xWrite = write;
    g_methods.xTruncate = [](sqlite3_file* f, sqlite3_int64 n) {
        return real(f)->pMethods->xTruncate(real(f), n);
    };
    g_methods.xSync = [](sqlite3_file* f, int flags) {
        return real(f)->pMethods->xSync(real(f), flags);
    };
    g_methods.xFileSize = [](sqlite3_file* f, sqlite3_int64* n) {
        return real(f)->pMethods->xFileSize(real(f), n);
    };
    g_methods.xLock = [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); };
    g_methods.xUnlock = [](sqlite3_file* f, int l) {
        return real(f)->pMethods->xUnlock(real(f), l);
    };
    g_methods.xCheckReservedLock = [](sqlite3_file* f, int* r) {
        return real(f)->pMethods->xCheckReservedLock(real(f), r);
    };
    g_methods.xFileControl = [](sqlite3_file* f, int op, void* a) {
        return real(f)->pMethods->xFileControl(real(f), op, a);
    };
    g_methods.xSectorSize = [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); };
    g_methods.xDeviceCharacteristics = [](sqlite3_file* f) {
        return real(f)->pMethods->xDeviceCharacteristics(real(f));
    };
    g_methods.xShmMap = [](sqlite3_file* f, int i, int size, int extend, void volatile** p) {
        return real(f)->pMethods->xShmMap(real(f), i, size, extend, p);
    };
    g_methods.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
        return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
    };
    g_methods.xShmBarrier = [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); };
    g_methods.xShmUnmap = [](sqlite3_file* f, int d) {
        return real(f)->pMethods->xShmUnmap(real(f), d);
    };
    g_methods.xFetch = [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) {
        return real(f)->pMethods->xFetch(real(f), o, n, p);
    };
    g_methods.xUnfetch = [](sqlite3_file* f, sqlite3_int64 o, void* p) {
        return real(f)->pMethods->xUnfetch(real(f), o, p);
    };
    g_budget = -1;
    sqlite3_vfs_register(&g_vfs, 1); // the default: every connection opened now uses it
}

void uninstall() {
    sqlite3_vfs_register(g_base, 1);
    sqlite3_vfs_unregister(&g_vfs);
}

} // namespace fulldisk

} // namespace

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
    void migrations();
    void newerDatabaseRefused();
    void foreignDatabaseRefused();
    void notSqliteRefused();
    void pathUnderAFile();
    void readOnlyDirectory();
    void readOnlyOpen();
    void diskFull();
    void liveLockKeepsRunning();
    void concurrentReadersAndWriter();
    void killedWriterIsInterrupted();
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

    QVERIFY(!store->knownHash("/models/alpha/model.safetensors", 10, 20));
    store->rememberHash("/models/alpha/model.safetensors", 10, 20, "h1");
    QCOMPARE(store->knownHash("/models/alpha/model.safetensors", 10, 20),
             std::optional<std::string>("h1"));
    QVERIFY(!store->knownHash("/models/alpha/model.safetensors", 10, 21)); // touched since
    store->rememberHash("/models/alpha/model.safetensors", 11, 21, "h2");
    QVERIFY(!store->knownHash("/models/alpha/model.safetensors", 10, 20));
    QCOMPARE(*store->knownHash("/models/alpha/model.safetensors", 11, 21), std::string("h2"));

    auto record = sampleExperiment(modelId, calib);
    const int64_t id = store->beginExperiment(record);
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

void TestStore::migrations() {
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
        store->rememberHash("/w", 1, 2, "h");
        QCOMPARE(*store->knownHash("/w", 1, 2), std::string("h"));
        // Forward-only: asking for an older version changes nothing.
        rs::store::migrateTo(store->database(), 1);
        QCOMPARE(store->schemaVersion(), current);
    }
}

void TestStore::newerDatabaseRefused() {
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

void TestStore::foreignDatabaseRefused() {
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

void TestStore::notSqliteRefused() {
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

void TestStore::pathUnderAFile() {
    // A path below a regular file can be created by nobody, root included.
    QTemporaryDir dir;
    const fs::path plain = pathIn(dir, "plain");
    std::ofstream(plain) << "a file";
    const FileState before = stateOf(plain);
    const fs::path below = plain / "data" / "rankscope.db";
    std::string error = errorOf([&] { ExperimentStore::open(below); });
    QVERIFY2(contains(error, below.string() + ": cannot create the directory"), error.c_str());
    QVERIFY(contains(error, "Not a directory"));
    error = errorOf([&] { Database(plain / "x.db", Database::Mode::ReadWrite, 100); });
    QVERIFY2(contains(error, "cannot create the database: the directory " + plain.string() +
                                 " is not writable"),
             error.c_str());
    QVERIFY(stateOf(plain) == before);
}

// The checks of readOnlyDirectory(); returns what failed, empty when all held. Runs as the
// calling user: permissions must be enforced for it (not root).
std::string readOnlyDirectoryChecks(const fs::path& locked) {
    const auto failed = [](const std::string& what, const std::string& error) {
        return what + " (got: " + error + ")";
    };
    fs::create_directory(locked);
    const fs::path existing = locked / "existing.db";
    {
        auto store = ExperimentStore::open(existing);
        completeExperiment(*store, store->upsertModel(sampleModel()), 1);
    }
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    struct Restore { // lets the temporary directory be removed even when a check fails
        fs::path dir, file;
        ~Restore() {
            fs::permissions(dir, fs::perms::owner_all);
            fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
        }
    } restore{locked, existing};
    const FileState before = stateOf(existing);
    std::string error = errorOf([&] { ExperimentStore::open(locked / "new.db"); });
    if (!contains(error, "cannot create the database: the directory " + locked.string() +
                             " is not writable"))
        return failed("new database in a read-only directory", error);
    error = errorOf([&] { ExperimentStore::open(existing); });
    if (!contains(error, existing.string() + ": the directory") ||
        !contains(error, "open it read-only"))
        return failed("existing database in a read-only directory", error);
    if (ExperimentStore::open(existing, {true})->listExperiments().size() != 1)
        return "a read-only open of the existing database lost its experiment";
    if (!(stateOf(existing) == before))
        return "the database file changed in a read-only directory";
    fs::permissions(locked, fs::perms::owner_all);

    fs::permissions(existing, fs::perms::owner_read);
    error = errorOf([&] { ExperimentStore::open(existing); });
    if (!contains(error, existing.string() + ": the database file is not writable"))
        return failed("read-only database file", error);
    if (!(stateOf(existing) == before))
        return "a read-only database file changed";
    return {};
}

void TestStore::readOnlyDirectory() {
    QTemporaryDir dir;
    const fs::path locked = pathIn(dir, "locked");
    if (::geteuid() != 0) {
        const std::string failure = readOnlyDirectoryChecks(locked);
        QVERIFY2(failure.empty(), failure.c_str());
        return;
    }
    // Root ignores permission bits: the checks run in a child that drops to an unprivileged
    // user and reports through a pipe.
    constexpr uid_t kNobody = 65534;
    fs::permissions(dir.path().toStdString(), fs::perms::all);
    int channel[2];
    QVERIFY(::pipe(channel) == 0);
    const pid_t child = ::fork();
    QVERIFY(child >= 0);
    if (child == 0) {
        ::close(channel[0]);
        std::string failure;
        if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)
            failure = "cannot drop to an unprivileged user";
        else
            try {
                failure = readOnlyDirectoryChecks(locked);
            } catch (const std::exception& e) {
                failure = std::string("exception: ") + e.what();
            }
        if (failure.empty())
            failure = "ok";
        [[maybe_unused]] const auto written = ::write(channel[1], failure.data(), failure.size());
        ::_exit(0);
    }
    ::close(channel[1]);
    std::string report;
    char buffer[512];
    for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) > 0;)
        report.append(buffer, size_t(n));
    ::close(channel[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    QVERIFY2(report == "ok", report.c_str());
}

void TestStore::readOnlyOpen() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "archive.db");
    int64_t orphan = 0;
    {
        auto store = ExperimentStore::open(file);
        const int64_t model = store->upsertModel(sampleModel());
        completeExperiment(*store, model, 3);
        completeExperiment(*store, model, 2);
        auto record = sampleExperiment(model);
        orphan = store->beginExperiment(record); // its owner goes away unfinished
    }
    fs::permissions(file, fs::perms::owner_read | fs::perms::group_read);
    const FileState before = stateOf(file);
    {
        auto store = ExperimentStore::open(file, {true});
        const auto list = store->listExperiments();
        QCOMPARE(list.size(), size_t(3));
        QCOMPARE(list[1].layerCount, int64_t(2));
        QCOMPARE(store->layers(list[2].experiment.id).size(), size_t(3));
        // A read-only open marks nothing: the orphan stays running until a read-write open.
        QCOMPARE(store->experiment(orphan)->status, ExperimentStatus::Running);
        const std::string error = errorOf([&] { store->rename(orphan, "x", ""); });
        QVERIFY2(contains(error, file.string() + ": cannot rename experiment " +
                                     std::to_string(orphan) +
                                     ": the database was opened read-only"),
                 error.c_str());
        auto record = sampleExperiment(1);
        QVERIFY(contains(errorOf([&] { store->beginExperiment(record); }), "read-only"));
    }
    QVERIFY(stateOf(file) == before);

    const fs::path missing = pathIn(dir, "missing.db");
    QCOMPARE(errorOf([&] { ExperimentStore::open(missing, {true}); }),
             missing.string() + ": no such database");
    QVERIFY(!fs::exists(missing));

    const fs::path old = pathIn(dir, "old.db");
    {
        Database db(old, Database::Mode::ReadWrite, 1000);
        rs::store::migrateTo(db, 1);
    }
    QVERIFY(contains(errorOf([&] { ExperimentStore::open(old, {true}); }),
                     "schema version 1, older than this RankScope's"));
}

void TestStore::diskFull() {
    QTemporaryDir dir;
    const fs::path file = pathIn(dir, "full.db");
    fulldisk::install();
    int64_t kept = 0;
    int64_t victim = 0;
    std::string error;
    {
        auto store = ExperimentStore::open(file);
        const int64_t model = store->upsertModel(sampleModel());
        kept = completeExperiment(*store, model, 4, 257);
        auto record = sampleExperiment(model);
        victim = store->beginExperiment(record);
        store->addLayers(victim, {sampleLayer(0, 257)});
        fulldisk::g_budget = 64 * 1024; // the next large write runs out of space half-way
        std::vector<rs::LayerRecord> big;
        for (int k = 1; k < 9; ++k)
            big.push_back(sampleLayer(k, 4097));
        error = errorOf([&] { store->addLayers(victim, big); });
        // Space freed: the same connection goes on.
        fulldisk::g_budget = -1;
        store->addLayers(victim, {sampleLayer(1, 257)});
        store->finishExperiment(victim, ExperimentStatus::Done, {});
    }
    fulldisk::uninstall();
    QVERIFY2(contains(error, file.string() + ": cannot insert layer results: "), error.c_str());
    QVERIFY2(contains(error, "disk is full"), error.c_str());
    QCOMPARE(integrityCheck(file), std::string("ok"));
    auto store = ExperimentStore::open(file);
    QCOMPARE(store->layers(kept).size(), size_t(4));
    QVERIFY(sameLayer(sampleLayer(3, 257), store->layers(kept)[3], true));
    QCOMPARE(store->evaluations(kept).size(), size_t(3));
    const auto layers = store->layers(victim);
    QCOMPARE(layers.size(), size_t(2)); // none of the failed call's layers
    QCOMPARE(layers[1].name, sampleLayer(1, 257).name);
}

void TestStore::liveLockKeepsRunning() {
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

void TestStore::concurrentReadersAndWriter() {
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
                while (!stop) {
                    for (const auto& s : store->listExperiments({{}, {}, 5})) {
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

void TestStore::killedWriterIsInterrupted() {
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

QTEST_GUILESS_MAIN(TestStore)
#include "tst_store.moc"
