// The artefact cache: atomic artefacts, validation of keys and files, and behaviour on a full
// disk.
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "store/artefact_cache.h"
#include "testdata.h"
#include "testfiles.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/resource.h>

namespace fs = std::filesystem;

namespace {

using rs::test::errorOf;
using rs::test::readBytes;
using rs::test::writeBytes;

fs::path tempPath(const QTemporaryDir& dir) {
    return fs::path(dir.path().toStdString());
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

} // namespace

class TestArtefactCache : public QObject {
    Q_OBJECT
private slots:
    void roundTripIsBitExact();
    void incompleteArtefactIsNotReadable();
    void writerWithoutCommitLeavesNothing();
    void damagedFilesAreNamed();
    void badKeysAndNamesAreRefused();
    void fullDiskLeavesNoPartialArtefact();
};

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

QTEST_GUILESS_MAIN(TestArtefactCache)
#include "tst_artefact_cache.moc"
