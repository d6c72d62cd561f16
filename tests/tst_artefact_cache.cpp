// Content hashing (SHA-256 of strings, files and model weights) and the artefact cache: atomic
// artefacts, validation of keys and files, behaviour on a full disk, and pruning.
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "util/error.h"
#include "util/hash.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/resource.h>
#include <tuple>

namespace fs = std::filesystem;

namespace {

using rs::test::errorOf;

// Fails the test unless `expr` throws rs::Error "<subject>: ...<problem>..." on a single line.
#define QVERIFY_ERROR(expr, subject, problem)                                                      \
    do {                                                                                           \
        const std::string message_ = errorOf([&] { expr; });                                       \
        const std::string prefix_ = std::string(subject) + ": ";                                   \
        QVERIFY2(!message_.empty(), "no rs::Error thrown");                                        \
        QVERIFY2(message_.rfind(prefix_, 0) == 0, ("wrong subject: " + message_).c_str());         \
        QVERIFY2(message_.find(problem) != std::string::npos,                                      \
                 ("wrong problem: " + message_).c_str());                                          \
        QVERIFY2(message_.find('\n') == std::string::npos, ("not one line: " + message_).c_str()); \
    } while (false)

std::string readBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeBytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

fs::path tempPath(const QTemporaryDir& dir) {
    return fs::path(dir.path().toStdString());
}

// Deterministic bytes that are not a repeating block (so block boundaries matter).
std::string patternBytes(size_t size) {
    std::string out(size, '\0');
    uint32_t state = 12345;
    for (char& c : out) {
        state = state * 1664525u + 1013904223u;
        c = static_cast<char>(state >> 24);
    }
    return out;
}

bool sameBits(const at::Tensor& a, const at::Tensor& b) {
    return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
           std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), a.nbytes()) == 0;
}

// float64 values that a lossy path would not keep: NaN, infinities, -0, subnormals, extremes.
at::Tensor awkwardDoubles() {
    at::Tensor t = at::randn({7, 5}, at::TensorOptions().dtype(at::kDouble));
    double* p = t.data_ptr<double>();
    p[0] = std::numeric_limits<double>::quiet_NaN();
    p[1] = std::numeric_limits<double>::infinity();
    p[2] = -std::numeric_limits<double>::infinity();
    p[3] = -0.0;
    p[4] = std::numeric_limits<double>::denorm_min();
    p[5] = std::numeric_limits<double>::max();
    p[6] = 1.0 / 3.0;
    return t;
}

// How the cache quotes a refused key or file name in its message.
std::string quotedSubject(const std::string& what, const std::string& text) {
    std::string out = what + " '";
    for (char c : text)
        out += (c == '\n') ? '?' : c;
    return out + "'";
}

const std::string kKeyA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string kKeyB = "fedcba9876543210";

// Restores the file size limit and the SIGXFSZ disposition however the scope is left.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &m_saved);
        m_previous = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limited = m_saved;
        limited.rlim_cur = bytes;
        m_ok = setrlimit(RLIMIT_FSIZE, &limited) == 0;
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &m_saved);
        std::signal(SIGXFSZ, m_previous);
    }
    bool ok() const { return m_ok; }

private:
    rlimit m_saved{};
    void (*m_previous)(int) = nullptr;
    bool m_ok = false;
};

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

class TestArtefactCache : public QObject {
    Q_OBJECT
private slots:
    void sha256KnownAnswers();
    void sha256FileMatchesContent();
    void sha256FileErrors();
    void sha256FileCancellation();
    void hashWeightsOfRealModel();
    void hashWeightsFollowsContent();
    void hashWeightsMemo();
    void hashWeightsErrors();

    void roundTripIsBitExact();
    void incompleteArtefactIsNotReadable();
    void writerWithoutCommitLeavesNothing();
    void damagedFilesAreNamed();
    void badKeysAndNamesAreRefused();
    void fullDiskLeavesNoPartialArtefact();

    void pruneRemovesIncompleteAndUnreferenced();
    void pruneAll();
    void pruneOlderThan();
    void pruneToMaxBytes();
    void pruneDryRunChangesNothing();

private:
    // A writable copy of the stories260K model directory.
    static fs::path copyModel(const fs::path& to) {
        fs::create_directories(to);
        for (const char* name : {"config.json", "model.safetensors", "tokenizer.bin"}) {
            fs::copy_file(rs::test::stories260K() / name, to / name);
            fs::permissions(to / name, fs::perms::owner_write, fs::perm_options::add);
        }
        return to;
    }
};

void TestArtefactCache::sha256KnownAnswers() {
    // FIPS 180-2 test vectors.
    QCOMPARE(rs::sha256Hex(""),
             std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    QCOMPARE(rs::sha256Hex("abc"),
             std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QCOMPARE(rs::sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
             std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const std::string million(1'000'000, 'a');
    const std::string millionHash =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    QCOMPARE(rs::sha256Hex(million), millionHash);

    // Incremental updates in uneven pieces give the same digest, and the object is reusable.
    rs::Sha256 hash;
    size_t done = 0;
    for (size_t piece = 1; done < million.size(); piece = piece * 3 + 1) {
        const size_t n = std::min(piece, million.size() - done);
        hash.update(million.data() + done, n);
        done += n;
    }
    QCOMPARE(hash.hexDigest(), millionHash);
    hash.update("abc");
    QCOMPARE(hash.hexDigest(),
             std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

void TestArtefactCache::sha256FileMatchesContent() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    // Larger than two 4 MiB blocks and not a multiple of one.
    const std::string content = patternBytes((size_t(9) << 20) + 123);
    const fs::path path = tempPath(tmp) / "data.bin";
    writeBytes(path, content);

    std::vector<rs::ProgressEvent> events;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) { events.push_back(e); };
    QCOMPARE(rs::sha256File(path, job), rs::sha256Hex(content));
    QVERIFY(events.size() >= 3);
    for (size_t i = 0; i < events.size(); ++i) {
        QCOMPARE(events[i].stage, std::string("hash"));
        QCOMPARE(events[i].detail, std::string("data.bin"));
        QCOMPARE(events[i].total, int64_t(content.size()));
        if (i > 0)
            QVERIFY(events[i].done > events[i - 1].done);
    }
    QCOMPARE(events.back().done, int64_t(content.size()));

    const fs::path empty = tempPath(tmp) / "empty.bin";
    writeBytes(empty, "");
    QCOMPARE(rs::sha256File(empty), rs::sha256Hex(""));
    const fs::path small = tempPath(tmp) / "small.bin";
    writeBytes(small, "abc");
    QCOMPARE(rs::sha256File(small),
             std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

void TestArtefactCache::sha256FileErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path missing = tempPath(tmp) / "missing.bin";
    QVERIFY_ERROR(rs::sha256File(missing), missing.string(), "no such file");
    QVERIFY_ERROR(rs::sha256File(tempPath(tmp)), tempPath(tmp).string(), "is a directory");
}

void TestArtefactCache::sha256FileCancellation() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path path = tempPath(tmp) / "big.bin";
    writeBytes(path, patternBytes(size_t(12) << 20));

    // Cancelled after the first block: the next block is not read.
    rs::JobContext job;
    int64_t lastDone = 0;
    job.progress = [&](const rs::ProgressEvent& e) {
        lastDone = e.done;
        if (e.done > 0)
            job.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::sha256File(path, job));
    QVERIFY(lastDone > 0);
    QVERIFY(lastDone < int64_t(fs::file_size(path)));

    // Cancelled before it starts.
    rs::JobContext early;
    early.cancel.cancel();
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::sha256File(path, early));
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::hashWeights(path, {}, {}, early));
}

void TestArtefactCache::hashWeightsOfRealModel() {
    const fs::path model = rs::test::stories260K();
    const std::string first = rs::hashWeights(model);
    QCOMPARE(first.size(), size_t(64));
    QCOMPARE(rs::hashWeights(model), first);
    // The documented construction: one "name\nhash\n" line per weights file, hashed.
    const std::string fileHash = rs::sha256File(model / "model.safetensors");
    QCOMPARE(first, rs::sha256Hex("model.safetensors\n" + fileHash + "\n"));
    // A single file is hashed as it is (a .safetensors file, or a llama2.c checkpoint).
    QCOMPARE(rs::hashWeights(model / "model.safetensors"), fileHash);
    const fs::path llama2c = rs::test::dataPath("llama2c/stories260K.bin");
    QCOMPARE(rs::hashWeights(llama2c), rs::sha256File(llama2c));
    QVERIFY(rs::hashWeights(llama2c) != first);
}

void TestArtefactCache::hashWeightsFollowsContent() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path copy = copyModel(tempPath(tmp) / "model");
    const std::string original = rs::hashWeights(rs::test::stories260K());
    QCOMPARE(rs::hashWeights(copy), original); // the content, not the location

    // Files other than the weights do not take part.
    writeBytes(copy / "config.json", readBytes(copy / "config.json") + " ");
    QCOMPARE(rs::hashWeights(copy), original);

    // One byte of one weight changes it.
    std::string bytes = readBytes(copy / "model.safetensors");
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    writeBytes(copy / "model.safetensors", bytes);
    const std::string flipped = rs::hashWeights(copy);
    QVERIFY(flipped != original);
    QCOMPARE(flipped.size(), size_t(64));

    // So does a further weights file (a shard), and its name takes part too.
    writeBytes(copy / "extra.safetensors", "x");
    const std::string withExtra = rs::hashWeights(copy);
    QVERIFY(withExtra != flipped);
    fs::rename(copy / "extra.safetensors", copy / "other.safetensors");
    QVERIFY(rs::hashWeights(copy) != withExtra);
}

void TestArtefactCache::hashWeightsMemo() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path copy = copyModel(tempPath(tmp) / "model");
    const fs::path weights = copy / "model.safetensors";
    writeBytes(copy / "model-b.safetensors", patternBytes(5000));

    using Stamp = std::tuple<std::string, int64_t, int64_t>;
    std::map<Stamp, std::string> memo;
    int lookups = 0, remembered = 0, hashed = 0;
    const rs::KnownHashFn known = [&](const fs::path& f, int64_t size, int64_t mtime) {
        ++lookups;
        const auto it = memo.find({f.string(), size, mtime});
        return it == memo.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    const rs::RememberHashFn remember = [&](const fs::path& f, int64_t size, int64_t mtime,
                                            const std::string& hash) {
        ++remembered;
        QVERIFY(f.is_absolute());
        QCOMPARE(size, int64_t(fs::file_size(f)));
        memo[{f.string(), size, mtime}] = hash;
    };
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "hash" && e.done == 0)
            ++hashed; // one per file read
    };

    const std::string first = rs::hashWeights(copy, known, remember, job);
    QCOMPARE(lookups, 2);
    QCOMPARE(remembered, 2);
    QCOMPARE(hashed, 2);
    QCOMPARE(memo.size(), size_t(2));
    QCOMPARE(first, rs::hashWeights(copy)); // the memo does not change the result

    // Second call: both files are known, nothing is read.
    lookups = remembered = hashed = 0;
    QCOMPARE(rs::hashWeights(copy, known, remember, job), first);
    QCOMPARE(lookups, 2);
    QCOMPARE(remembered, 0);
    QCOMPARE(hashed, 0);

    // The memo is trusted: a remembered hash is what the result is built from.
    for (auto& [stamp, hash] : memo)
        if (std::get<0>(stamp) == fs::canonical(weights).string())
            hash = std::string(64, 'f');
    QVERIFY(rs::hashWeights(copy, known, remember, job) != first);
    QCOMPARE(hashed, 0);

    // A rewritten file (new size and time) is not found in the memo and is hashed again.
    writeBytes(weights, readBytes(weights) + "more");
    lookups = remembered = hashed = 0;
    const std::string changed = rs::hashWeights(copy, known, remember, job);
    QCOMPARE(hashed, 1);
    QCOMPARE(remembered, 1);
    QCOMPARE(changed, rs::hashWeights(copy));
    QVERIFY(changed != first);

    // A single-file checkpoint uses the memo as well.
    lookups = remembered = hashed = 0;
    QCOMPARE(rs::hashWeights(weights, known, remember, job), rs::sha256File(weights));
    QCOMPARE(hashed, 0);
    QCOMPARE(lookups, 1);
}

void TestArtefactCache::hashWeightsErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path empty = tempPath(tmp) / "empty";
    fs::create_directories(empty);
    writeBytes(empty / "config.json", "{}");
    QVERIFY_ERROR(rs::hashWeights(empty), empty.string(), "has no .safetensors file");
    const fs::path missing = tempPath(tmp) / "missing";
    QVERIFY_ERROR(rs::hashWeights(missing), missing.string(), "no such file or directory");
}

void TestArtefactCache::roundTripIsBitExact() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    QVERIFY(cache.keys().empty());
    QVERIFY(!cache.complete(kKeyA));
    QCOMPARE(cache.bytesOf(kKeyA), uint64_t(0));
    QCOMPARE(cache.pathOf(kKeyA), tempPath(tmp) / "cache" / "01" / kKeyA);

    const at::Tensor gram = awkwardDoubles();
    const at::Tensor mean = at::rand({5}, at::TensorOptions().dtype(at::kDouble)) * 1e-300;
    const at::Tensor ids = at::arange(10, at::kLong);
    uint64_t written = 0;
    {
        rs::ArtefactCache::Writer writer(cache, kKeyA);
        writer.add("layer-0000.safetensors", {{"attn.gram", gram}, {"attn.mean_abs", mean}},
                   {{"tokens.attn", "4096"}});
        writer.add("layer-0001.safetensors", {{"ids", ids}});
        QVERIFY(!cache.complete(kKeyA));
        writer.commit(R"({"format": 1, "layers": 2, "description": "two layers"})");
        written = writer.bytesWritten();
        QVERIFY_ERROR(writer.add("late.safetensors", {{"ids", ids}}),
                      (cache.pathOf(kKeyA) / "late.safetensors").string(), "already committed");
    }
    QVERIFY(cache.complete(kKeyA));
    QCOMPARE(cache.keys(), std::vector<std::string>{kKeyA});
    QVERIFY(!cache.beingWritten(kKeyA));

    const rs::SafetensorsFile layer0 = cache.open(kKeyA, "layer-0000.safetensors");
    QVERIFY(sameBits(layer0.tensor("attn.gram"), gram));
    QVERIFY(sameBits(layer0.tensor("attn.mean_abs"), mean));
    QCOMPARE(layer0.metadata().at("tokens.attn"), std::string("4096"));
    QVERIFY(sameBits(cache.open(kKeyA, "layer-0001.safetensors").tensor("ids"), ids));

    const nlohmann::json manifest = nlohmann::json::parse(cache.manifest(kKeyA));
    QCOMPARE(manifest["layers"].get<int>(), 2);
    QCOMPARE(manifest["description"].get<std::string>(), std::string("two layers"));

    // The byte counts agree with the files on disk.
    uint64_t onDisk = 0;
    for (const auto& entry : fs::directory_iterator(cache.pathOf(kKeyA)))
        onDisk += entry.file_size();
    QCOMPARE(cache.bytesOf(kKeyA), onDisk);
    QCOMPARE(written, onDisk);

    // A complete artefact is not written over; it is removed first.
    QVERIFY_ERROR(rs::ArtefactCache::Writer(cache, kKeyA), cache.pathOf(kKeyA).string(),
                  "already exists");
    QVERIFY(cache.complete(kKeyA));
    cache.remove(kKeyA);
    QVERIFY(!fs::exists(cache.pathOf(kKeyA)));
    QVERIFY(!fs::exists(cache.pathOf(kKeyA).parent_path())); // the empty prefix directory too
    QVERIFY(cache.keys().empty());
    cache.remove(kKeyA); // absent: nothing to do
}

void TestArtefactCache::incompleteArtefactIsNotReadable() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    const fs::path file = cache.pathOf(kKeyB) / "layer-0000.safetensors";
    {
        // While it is being written: present, incomplete, locked.
        rs::ArtefactCache::Writer writer(cache, kKeyB);
        writer.add("layer-0000.safetensors", {{"g", awkwardDoubles()}});
        QVERIFY(fs::exists(file));
        QCOMPARE(cache.keys(), std::vector<std::string>{kKeyB});
        QVERIFY(!cache.complete(kKeyB));
        QVERIFY(cache.beingWritten(kKeyB));
        QVERIFY_ERROR(cache.open(kKeyB, "layer-0000.safetensors"), file.string(), "not complete");
        QVERIFY_ERROR(cache.manifest(kKeyB), (cache.pathOf(kKeyB) / "manifest.json").string(),
                      "not complete");
        QVERIFY_ERROR(rs::ArtefactCache::Writer(cache, kKeyB), cache.pathOf(kKeyB).string(),
                      "being written");
        QVERIFY_ERROR(cache.remove(kKeyB), cache.pathOf(kKeyB).string(), "being written");
        QVERIFY(fs::exists(file));
    }

    // What a killed writer leaves: files without a manifest (and no lock held).
    fs::create_directories(cache.pathOf(kKeyB));
    rs::writeSafetensors(file, {{"g", awkwardDoubles()}});
    writeBytes(cache.pathOf(kKeyB) / ".writer.lock", "");
    QVERIFY(!cache.complete(kKeyB));
    QVERIFY(!cache.beingWritten(kKeyB));
    QVERIFY_ERROR(cache.open(kKeyB, "layer-0000.safetensors"), file.string(), "not complete");
    QCOMPARE(cache.keys(), std::vector<std::string>{kKeyB});

    // A new writer starts from scratch: the leftover file is not part of its artefact.
    {
        rs::ArtefactCache::Writer writer(cache, kKeyB);
        QVERIFY(!fs::exists(file));
        writer.add("other.safetensors", {{"x", at::ones({3}, at::kDouble)}});
        writer.commit("");
    }
    QVERIFY(cache.complete(kKeyB));
    QCOMPARE(cache.manifest(kKeyB), std::string("{}"));
    QVERIFY_ERROR(cache.open(kKeyB, "layer-0000.safetensors"), file.string(),
                  "is not a file of this artefact");
    QVERIFY(!fs::exists(cache.pathOf(kKeyB) / ".writer.lock"));
}

void TestArtefactCache::writerWithoutCommitLeavesNothing() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    {
        rs::ArtefactCache::Writer writer(cache, kKeyA);
        writer.add("a.safetensors", {{"g", awkwardDoubles()}});
        writer.add("b.safetensors", {{"g", awkwardDoubles()}});
        QVERIFY(writer.bytesWritten() > 0);
    }
    QVERIFY(!fs::exists(cache.pathOf(kKeyA)));
    QVERIFY(cache.keys().empty());
    QVERIFY(!cache.complete(kKeyA));
    QCOMPARE(cache.bytesOf(kKeyA), uint64_t(0));
    // Only the (empty) cache root is left.
    QCOMPARE(std::distance(fs::directory_iterator(cache.directory()), fs::directory_iterator()),
             std::ptrdiff_t(0));

    // The same when the writer is abandoned by an exception, e.g. a bad manifest.
    QVERIFY_ERROR(
        {
            rs::ArtefactCache::Writer writer(cache, kKeyA);
            writer.add("a.safetensors", {{"g", awkwardDoubles()}});
            writer.commit("[1, 2]");
        },
        (cache.pathOf(kKeyA) / "manifest.json").string(), "must be a JSON object");
    QVERIFY(!fs::exists(cache.pathOf(kKeyA)));
}

void TestArtefactCache::damagedFilesAreNamed() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    {
        rs::ArtefactCache::Writer writer(cache, kKeyA);
        for (const char* name : {"a.safetensors", "b.safetensors", "c.safetensors"})
            writer.add(name, {{"g", awkwardDoubles()}, {"h", at::ones({64}, at::kDouble)}});
        writer.commit(R"({"layers": 3})");
    }
    const fs::path dir = cache.pathOf(kKeyA);

    // Truncated.
    fs::resize_file(dir / "a.safetensors", fs::file_size(dir / "a.safetensors") / 2);
    QVERIFY_ERROR(cache.open(kKeyA, "a.safetensors"), (dir / "a.safetensors").string(),
                  "truncated");
    // Missing.
    fs::remove(dir / "b.safetensors");
    QVERIFY_ERROR(cache.open(kKeyA, "b.safetensors"), (dir / "b.safetensors").string(), "missing");
    // Corrupt (same size, garbage header length).
    std::string bytes = readBytes(dir / "c.safetensors");
    const uint64_t huge = uint64_t(1) << 60;
    std::memcpy(bytes.data(), &huge, 8);
    writeBytes(dir / "c.safetensors", bytes);
    QVERIFY_ERROR(cache.open(kKeyA, "c.safetensors"), (dir / "c.safetensors").string(),
                  "header length");
    // Not a file of the artefact.
    QVERIFY_ERROR(cache.open(kKeyA, "d.safetensors"), (dir / "d.safetensors").string(),
                  "not a file of this artefact");
    // A corrupt manifest names the manifest.
    writeBytes(dir / "manifest.json", "{\"files\": ");
    QVERIFY_ERROR(cache.open(kKeyA, "a.safetensors"), (dir / "manifest.json").string(),
                  "corrupt manifest");
    QVERIFY_ERROR(cache.manifest(kKeyA), (dir / "manifest.json").string(), "corrupt manifest");
}

void TestArtefactCache::badKeysAndNamesAreRefused() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path root = tempPath(tmp) / "cache";
    fs::create_directories(root);
    rs::ArtefactCache cache(root);
    const std::vector<std::string> badKeys = {
        "",
        "0123456789abcde",                   // 15 digits
        std::string(65, 'a'),                // 65 digits
        "0123456789ABCDEF",                  // upper case
        "0123456789abcdeg",                  // not hex
        "../../../../../../etc/passwd",      // traversal
        "01/3456789abcdef0123",              // separator
        "0123456789abcdef\n0123456789abcdef" // newline
    };
    for (const std::string& key : badKeys) {
        const std::string subject = quotedSubject("artefact key", key);
        const char* problem = "must be 16 to 64 lowercase hexadecimal digits";
        QVERIFY_ERROR(cache.pathOf(key), subject, problem);
        QVERIFY_ERROR(cache.complete(key), subject, problem);
        QVERIFY_ERROR(cache.bytesOf(key), subject, problem);
        QVERIFY_ERROR(rs::ArtefactCache::Writer(cache, key), subject, problem);
        QVERIFY_ERROR(cache.open(key, "a.safetensors"), subject, problem);
        QVERIFY_ERROR(cache.manifest(key), subject, problem);
        QVERIFY_ERROR(cache.remove(key), subject, problem);
    }
    // Both lengths at the limits are keys.
    QCOMPARE(cache.pathOf(std::string(16, '0')).filename().string(), std::string(16, '0'));
    QCOMPARE(cache.pathOf(std::string(64, 'f')).filename().string(), std::string(64, 'f'));

    for (const std::string name : {"", "../escape.safetensors", "a/b.safetensors", ".hidden",
                                   "manifest.json", "/etc/passwd", "sp ace.safetensors"}) {
        rs::ArtefactCache::Writer writer(cache, kKeyA);
        const std::string subject = quotedSubject("artefact file name", name);
        QVERIFY_ERROR(writer.add(name, {{"x", at::ones({1})}}), subject, "plain file name");
        QVERIFY_ERROR(cache.open(kKeyA, name), subject, "plain file name");
    }
    // Nothing was created anywhere: the cache root and the temporary directory hold only it.
    QVERIFY(fs::is_empty(root));
    QCOMPARE(std::distance(fs::directory_iterator(tempPath(tmp)), fs::directory_iterator()),
             std::ptrdiff_t(1));
}

void TestArtefactCache::fullDiskLeavesNoPartialArtefact() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    rs::ArtefactCache cache(tempPath(tmp) / "cache");
    const at::Tensor kept = awkwardDoubles();
    {
        rs::ArtefactCache::Writer writer(cache, kKeyB);
        writer.add("layer-0000.safetensors", {{"g", kept}});
        writer.commit(R"({"layers": 1})");
    }
    const std::string keptManifest = readBytes(cache.pathOf(kKeyB) / "manifest.json");

    const fs::path small = cache.pathOf(kKeyA) / "layer-0000.safetensors";
    const fs::path large = cache.pathOf(kKeyA) / "layer-0001.safetensors";
    std::string err;
    {
        // A file size limit makes write() fail part-way, as a full disk would.
        const FileSizeLimit limit(256 * 1024);
        QVERIFY(limit.ok());
        err = errorOf([&] {
            rs::ArtefactCache::Writer writer(cache, kKeyA);
            writer.add("layer-0000.safetensors", {{"g", at::ones({1024}, at::kDouble)}});
            writer.add("layer-0001.safetensors", {{"g", at::ones({1 << 20}, at::kDouble)}});
            writer.commit("{}");
        });
    }
    QVERIFY2(err.rfind(large.string() + ": write failed (File too large)", 0) == 0, err.c_str());
    // Nothing of the failed artefact is left, not even the file that was written completely.
    QVERIFY(!fs::exists(small));
    QVERIFY(!fs::exists(cache.pathOf(kKeyA)));
    QVERIFY(!cache.complete(kKeyA));
    QCOMPARE(cache.keys(), std::vector<std::string>{kKeyB});
    // The earlier artefact is intact.
    QVERIFY(cache.complete(kKeyB));
    QCOMPARE(readBytes(cache.pathOf(kKeyB) / "manifest.json"), keptManifest);
    QVERIFY(sameBits(cache.open(kKeyB, "layer-0000.safetensors").tensor("g"), kept));
    QCOMPARE(std::distance(fs::directory_iterator(cache.pathOf(kKeyB)), fs::directory_iterator()),
             std::ptrdiff_t(2)); // the file and the manifest, no temporary file
}

void TestArtefactCache::pruneRemovesIncompleteAndUnreferenced() {
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

void TestArtefactCache::pruneAll() {
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

void TestArtefactCache::pruneOlderThan() {
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

void TestArtefactCache::pruneToMaxBytes() {
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

void TestArtefactCache::pruneDryRunChangesNothing() {
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

QTEST_GUILESS_MAIN(TestArtefactCache)
#include "tst_artefact_cache.moc"
