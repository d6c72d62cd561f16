// The experiment store against its file system: paths that cannot be created, read-only
// directories, files and opens, and a disk that fills up during a write.
#include "store/database.h"
#include "store/experiment_store.h"
#include "store/schema.h"
#include "store_samples.h"
#include "testdata.h"

#include <QTemporaryDir>
#include <QTest>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using rs::ExperimentStatus;
using rs::ExperimentStore;
using rs::store::Database;
using namespace rs::test;

namespace {

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

class TestStoreFilesystem : public QObject {
    Q_OBJECT
private slots:
    void pathUnderAFile();
    void readOnlyDirectory();
    void readOnlyOpen();
    void diskFull();
};

void TestStoreFilesystem::pathUnderAFile() {
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

void TestStoreFilesystem::readOnlyDirectory() {
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

void TestStoreFilesystem::readOnlyOpen() {
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

void TestStoreFilesystem::diskFull() {
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

QTEST_GUILESS_MAIN(TestStoreFilesystem)
#include "tst_store_filesystem.moc"
