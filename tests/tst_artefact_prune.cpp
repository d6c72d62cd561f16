// Pruning the artefact cache: incomplete and unreferenced artefacts, everything, by age and by
// size, and a dry run.
#include "io/safetensorswriter.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "testfiles.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using rs::test::readBytes;

fs::path tempPath(const QTemporaryDir& dir) {
    return fs::path(dir.path().toStdString());
}

// A UTC timestamp as the store writes it, `days` days ago.
std::string daysAgo(int64_t days) {
    const std::time_t t = std::time(nullptr) - static_cast<std::time_t>(days * 86400);
    std::tm utc{};
    gmtime_r(&t, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// A key per artefact of a prune scenario.
std::string keyOf(char c) {
    return std::string(32, c);
}

// A complete artefact of one file holding `doubles` float64 values; returns its bytes.
uint64_t makeArtefact(rs::ArtefactCache& cache, const std::string& key, int64_t doubles = 512) {
    rs::ArtefactCache::Writer writer(cache, key);
    writer.add("layer-0000.safetensors", {{"g", at::ones({doubles}, at::kDouble)}});
    writer.commit(R"({"layers": 1})");
    return cache.bytesOf(key);
}

// ...and its row in the store, last used `lastUsed`.
int64_t registerArtefact(rs::ExperimentStore& store, rs::ArtefactCache& cache,
                         const std::string& key, const std::string& lastUsed = {}) {
    return store.addArtefact({0, key, "statistics", "test artefact",
                              static_cast<int64_t>(cache.bytesOf(key)), lastUsed, lastUsed});
}

std::vector<std::string> rowKeys(const rs::ExperimentStore& store) {
    std::vector<std::string> keys;
    for (const rs::ArtefactRecord& a : store.artefacts())
        keys.push_back(a.key);
    std::sort(keys.begin(), keys.end());
    return keys;
}

std::vector<std::string> sorted(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    return keys;
}

} // namespace

class TestArtefactPrune : public QObject {
    Q_OBJECT
private slots:
    void pruneRemovesIncompleteAndUnreferenced();
    void pruneAll();
    void pruneOlderThan();
    void pruneToMaxBytes();
    void pruneDryRunChangesNothing();
};

void TestArtefactPrune::pruneRemovesIncompleteAndUnreferenced() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    auto store = rs::ExperimentStore::open(tempPath(tmp) / "db" / "rankscope.db");

    const std::string kept = keyOf('a'), orphan = keyOf('b'), leftover = keyOf('c'),
                      damaged = keyOf('d'), writing = keyOf('e'), gone = keyOf('f');
    const uint64_t keptBytes = makeArtefact(cache, kept);
    registerArtefact(*store, cache, kept);
    const uint64_t orphanBytes = makeArtefact(cache, orphan); // no row
    // An interrupted write: a file, no manifest, no row.
    fs::create_directories(cache.pathOf(leftover));
    rs::writeSafetensors(cache.pathOf(leftover) / "layer-0000.safetensors",
                         {{"g", at::ones({100}, at::kDouble)}});
    const uint64_t leftoverBytes = cache.bytesOf(leftover);
    // A registered artefact that lost its manifest.
    makeArtefact(cache, damaged);
    registerArtefact(*store, cache, damaged);
    fs::remove(cache.pathOf(damaged) / "manifest.json");
    const uint64_t damagedBytes = cache.bytesOf(damaged);
    // A row whose directory is gone.
    makeArtefact(cache, gone);
    registerArtefact(*store, cache, gone);
    cache.remove(gone);
    // An artefact being written right now is left alone.
    rs::ArtefactCache::Writer writer(cache, writing);
    writer.add("layer-0000.safetensors", {{"g", at::ones({100}, at::kDouble)}});
    const uint64_t writingBytes = cache.bytesOf(writing);

    const rs::PruneReport report = rs::pruneCache(*store, cache, {});
    QCOMPARE(sorted(report.removed), sorted({orphan, leftover, damaged, gone}));
    QCOMPARE(report.incompleteRemoved, int64_t(2));
    QCOMPARE(report.orphansRemoved, int64_t(1));
    QCOMPARE(report.freedBytes, orphanBytes + leftoverBytes + damagedBytes);
    QCOMPARE(report.keptBytes, keptBytes + writingBytes);

    QCOMPARE(cache.keys(), sorted({kept, writing}));
    QVERIFY(cache.complete(kept));
    QVERIFY(fs::exists(cache.pathOf(writing) / "layer-0000.safetensors"));
    QCOMPARE(rowKeys(*store), std::vector<std::string>{kept});
    QVERIFY(!store->findArtefact(damaged));
    QVERIFY(!store->findArtefact(gone));

    // The writer finishes undisturbed; with its row it survives the next prune.
    writer.commit("{}");
    registerArtefact(*store, cache, writing);
    const rs::PruneReport again = rs::pruneCache(*store, cache, {});
    QVERIFY(again.removed.empty());
    QCOMPARE(again.freedBytes, uint64_t(0));
    QCOMPARE(again.keptBytes, keptBytes + cache.bytesOf(writing));
}

void TestArtefactPrune::pruneAll() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    auto store = rs::ExperimentStore::open(tempPath(tmp) / "rankscope.db");
    uint64_t total = 0;
    for (const char c : {'1', '2', '3'}) {
        total += makeArtefact(cache, keyOf(c));
        registerArtefact(*store, cache, keyOf(c));
    }
    total += makeArtefact(cache, keyOf('4')); // and an orphan

    rs::PruneOptions options;
    options.all = true;
    const rs::PruneReport report = rs::pruneCache(*store, cache, options);
    QCOMPARE(sorted(report.removed), sorted({keyOf('1'), keyOf('2'), keyOf('3'), keyOf('4')}));
    QCOMPARE(report.freedBytes, total);
    QCOMPARE(report.keptBytes, uint64_t(0));
    QCOMPARE(report.orphansRemoved, int64_t(1));
    QVERIFY(cache.keys().empty());
    QVERIFY(store->artefacts().empty());
    QVERIFY(fs::is_empty(cache.directory()));
}

void TestArtefactPrune::pruneOlderThan() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    auto store = rs::ExperimentStore::open(tempPath(tmp) / "rankscope.db");
    const std::string ancient = keyOf('a'), old = keyOf('b'), recent = keyOf('c'),
                      revived = keyOf('d');
    const uint64_t ancientBytes = makeArtefact(cache, ancient);
    registerArtefact(*store, cache, ancient, daysAgo(100));
    const uint64_t oldBytes = makeArtefact(cache, old);
    registerArtefact(*store, cache, old, daysAgo(10));
    const uint64_t recentBytes = makeArtefact(cache, recent);
    registerArtefact(*store, cache, recent, daysAgo(1));
    // Created long ago but used just now: last_used counts, not created.
    const uint64_t revivedBytes = makeArtefact(cache, revived);
    store->touchArtefact(registerArtefact(*store, cache, revived, daysAgo(200)));

    rs::PruneOptions options;
    options.olderThanDays = 30;
    rs::PruneReport report = rs::pruneCache(*store, cache, options);
    QCOMPARE(report.removed, std::vector<std::string>{ancient});
    QCOMPARE(report.freedBytes, ancientBytes);
    QCOMPARE(report.keptBytes, oldBytes + recentBytes + revivedBytes);
    QCOMPARE(cache.keys(), sorted({old, recent, revived}));
    QCOMPARE(rowKeys(*store), sorted({old, recent, revived}));

    options.olderThanDays = 5;
    report = rs::pruneCache(*store, cache, options);
    QCOMPARE(report.removed, std::vector<std::string>{old});
    QCOMPARE(cache.keys(), sorted({recent, revived}));
    QCOMPARE(rowKeys(*store), sorted({recent, revived}));
}

void TestArtefactPrune::pruneToMaxBytes() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    auto store = rs::ExperimentStore::open(tempPath(tmp) / "rankscope.db");
    // Registered in an order unlike their last use: the oldest use goes first.
    const std::string newest = keyOf('1'), oldest = keyOf('2'), middle = keyOf('3');
    const uint64_t newestBytes = makeArtefact(cache, newest, 2000);
    registerArtefact(*store, cache, newest, daysAgo(1));
    const uint64_t oldestBytes = makeArtefact(cache, oldest, 1000);
    registerArtefact(*store, cache, oldest, daysAgo(3));
    const uint64_t middleBytes = makeArtefact(cache, middle, 3000);
    registerArtefact(*store, cache, middle, daysAgo(2));

    rs::PruneOptions options;
    options.maxBytes = newestBytes + middleBytes; // fits exactly once the oldest is gone
    rs::PruneReport report = rs::pruneCache(*store, cache, options);
    QCOMPARE(report.removed, std::vector<std::string>{oldest});
    QCOMPARE(report.freedBytes, oldestBytes);
    QCOMPARE(report.keptBytes, newestBytes + middleBytes);
    QCOMPARE(rowKeys(*store), sorted({newest, middle}));

    options.maxBytes = newestBytes + middleBytes - 1; // the next least recently used goes
    report = rs::pruneCache(*store, cache, options);
    QCOMPARE(report.removed, std::vector<std::string>{middle});
    QCOMPARE(report.keptBytes, newestBytes);
    QCOMPARE(cache.keys(), std::vector<std::string>{newest});

    options.maxBytes = 0;
    report = rs::pruneCache(*store, cache, options);
    QCOMPARE(report.removed, std::vector<std::string>{newest});
    QCOMPARE(report.keptBytes, uint64_t(0));
    QVERIFY(cache.keys().empty());
    QVERIFY(store->artefacts().empty());
}

void TestArtefactPrune::pruneDryRunChangesNothing() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    auto store = rs::ExperimentStore::open(tempPath(tmp) / "rankscope.db");
    makeArtefact(cache, keyOf('a'));
    registerArtefact(*store, cache, keyOf('a'), daysAgo(50));
    makeArtefact(cache, keyOf('b'));
    registerArtefact(*store, cache, keyOf('b'), daysAgo(1));
    makeArtefact(cache, keyOf('c')); // orphan
    makeArtefact(cache, keyOf('d'));
    fs::remove(cache.pathOf(keyOf('d')) / "manifest.json"); // incomplete
    const std::vector<std::string> keysBefore = cache.keys();
    const std::vector<std::string> rowsBefore = rowKeys(*store);
    const std::string manifestBefore = readBytes(cache.pathOf(keyOf('a')) / "manifest.json");

    rs::PruneOptions options;
    options.olderThanDays = 30;
    options.dryRun = true;
    const rs::PruneReport dry = rs::pruneCache(*store, cache, options);
    QCOMPARE(sorted(dry.removed), sorted({keyOf('a'), keyOf('c'), keyOf('d')}));
    QVERIFY(dry.freedBytes > 0);
    QCOMPARE(dry.incompleteRemoved, int64_t(1));
    QCOMPARE(dry.orphansRemoved, int64_t(1));
    // Nothing changed, on disk or in the database.
    QCOMPARE(cache.keys(), keysBefore);
    QCOMPARE(rowKeys(*store), rowsBefore);
    QCOMPARE(readBytes(cache.pathOf(keyOf('a')) / "manifest.json"), manifestBefore);

    // The real run does what the dry run said.
    options.dryRun = false;
    const rs::PruneReport real = rs::pruneCache(*store, cache, options);
    QCOMPARE(real.removed, dry.removed);
    QCOMPARE(real.freedBytes, dry.freedBytes);
    QCOMPARE(real.keptBytes, dry.keptBytes);
    QCOMPARE(cache.keys(), std::vector<std::string>{keyOf('b')});
    QCOMPARE(rowKeys(*store), std::vector<std::string>{keyOf('b')});
}

QTEST_GUILESS_MAIN(TestArtefactPrune)
#include "tst_artefact_prune.moc"
