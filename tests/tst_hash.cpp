// Content hashing: SHA-256 of strings and files (progress, errors, cancellation) and the hash of
// a model's weights, with its memo of known file hashes.
#include "testdata.h"
#include "testfiles.h"
#include "util/error.h"
#include "util/hash.h"

#include <QTemporaryDir>
#include <QTest>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace fs = std::filesystem;

namespace {

using rs::test::readBytes;
using rs::test::writeBytes;

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

} // namespace

class TestHash : public QObject {
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

void TestHash::sha256KnownAnswers() {
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

void TestHash::sha256FileMatchesContent() {
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

void TestHash::sha256FileErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path missing = tempPath(tmp) / "missing.bin";
    QVERIFY_ERROR(rs::sha256File(missing), missing.string(), "no such file");
    QVERIFY_ERROR(rs::sha256File(tempPath(tmp)), tempPath(tmp).string(), "is a directory");
}

void TestHash::sha256FileCancellation() {
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

void TestHash::hashWeightsOfRealModel() {
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

void TestHash::hashWeightsFollowsContent() {
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

void TestHash::hashWeightsMemo() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path copy = copyModel(tempPath(tmp) / "model");
    const fs::path weights = copy / "model.safetensors";
    writeBytes(copy / "model-b.safetensors", patternBytes(5000));

    using Stamp = std::tuple<std::string, int64_t, int64_t, int64_t>;
    std::map<Stamp, std::string> memo;
    int lookups = 0, remembered = 0, hashed = 0;
    const rs::KnownHashFn known = [&](const fs::path& f, const rs::FileStamp& stamp) {
        ++lookups;
        const auto it = memo.find({f.string(), stamp.size, stamp.mtimeNs, stamp.ctimeNs});
        return it == memo.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    const rs::RememberHashFn remember = [&](const fs::path& f, const rs::FileStamp& stamp,
                                            const std::string& hash) {
        ++remembered;
        QVERIFY(f.is_absolute());
        QCOMPARE(stamp.size, int64_t(fs::file_size(f)));
        memo[{f.string(), stamp.size, stamp.mtimeNs, stamp.ctimeNs}] = hash;
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

    // One bit flipped in place with the size and modification time set back: the status-change
    // time moved, so the memo misses and the real content is hashed.
    const auto mtime = fs::last_write_time(weights);
    std::string bytes = readBytes(weights);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
    writeBytes(weights, bytes);
    fs::last_write_time(weights, mtime);
    lookups = remembered = hashed = 0;
    const std::string flipped = rs::hashWeights(copy, known, remember, job);
    QCOMPARE(hashed, 1);
    QVERIFY(flipped != changed);
    QCOMPARE(flipped, rs::hashWeights(copy));

    // A single-file checkpoint uses the memo as well.
    lookups = remembered = hashed = 0;
    QCOMPARE(rs::hashWeights(weights, known, remember, job), rs::sha256File(weights));
    QCOMPARE(hashed, 0);
    QCOMPARE(lookups, 1);
}

void TestHash::hashWeightsErrors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const fs::path empty = tempPath(tmp) / "empty";
    fs::create_directories(empty);
    writeBytes(empty / "config.json", "{}");
    QVERIFY_ERROR(rs::hashWeights(empty), empty.string(), "has no .safetensors file");
    const fs::path missing = tempPath(tmp) / "missing";
    QVERIFY_ERROR(rs::hashWeights(missing), missing.string(), "no such file or directory");
}

QTEST_GUILESS_MAIN(TestHash)
#include "tst_hash.moc"
