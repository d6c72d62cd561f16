// Inputs that once got past a parser of outside input (found by the fuzz targets in fuzz/ or
// while writing them), each rebuilt here from a few hand-written bytes: every one must now be
// refused with one rs::Error that names the file (or the value) and the problem.
#include "budget/constraints.h"
#include "formats/gguf.h"
#include "io/safetensors.h"
#include "testfiles.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTest>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

namespace {

using rs::test::writeBytes;

template <typename T> std::string le(T value) {
    std::string bytes(sizeof value, '\0');
    std::memcpy(bytes.data(), &value, sizeof value); // little-endian hosts only, like the readers
    return bytes;
}

// A safetensors file from a header text and `dataBytes` zero bytes of data.
fs::path writeSafetensors(const fs::path& path, const std::string& header, size_t dataBytes) {
    writeBytes(path, le<uint64_t>(header.size()) + header + std::string(dataBytes, '\0'));
    return path;
}

std::string ggufString(const std::string& text) {
    return le<uint64_t>(text.size()) + text;
}

// A GGUF file with no metadata and one float32 tensor of the given file-order dimensions at
// `offset`, followed by `dataBytes` bytes of data after the 32-byte aligned header.
fs::path writeGguf(const fs::path& path, const std::vector<uint64_t>& dims, uint64_t offset,
                   size_t dataBytes) {
    std::string bytes = "GGUF" + le<uint32_t>(3) + le<uint64_t>(1) + le<uint64_t>(0);
    bytes += ggufString("t") + le<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (const uint64_t d : dims)
        bytes += le<uint64_t>(d);
    bytes += le<uint32_t>(0) + le<uint64_t>(offset);
    bytes.resize((bytes.size() + 31) / 32 * 32, '\0');
    writeBytes(path, bytes + std::string(dataBytes, '\0'));
    return path;
}

// A byte-level BPE tokenizer.json whose vocabulary is `vocab` (a JSON object text).
std::string byteLevelTokenizer(const std::string& vocab) {
    return R"({"model":{"type":"BPE","vocab":)" + vocab +
           R"(,"merges":[]},"pre_tokenizer":{"type":"ByteLevel"}})";
}

} // namespace

class TestParserRegressions : public QObject {
    Q_OBJECT
private slots:
    void init() { QVERIFY(m_tmp.isValid()); }
    void safetensorsDuplicateKeys();
    void safetensorsOffsets();
    void ggufOffsetWrapsAround();
    void ggufSizeOverflows();
    void overridePatternBacktracks();
    void tokenizerJsonIdOutOfRange();

private:
    fs::path tmp(const std::string& name) const {
        return fs::path(m_tmp.path().toStdString()) / name;
    }

    QTemporaryDir m_tmp;
};

void TestParserRegressions::safetensorsDuplicateKeys() {
    const fs::path p = tmp("dup.safetensors");
    // JSON parsers keep one of two equal keys; the file must be refused instead.
    writeSafetensors(p,
                     R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     8);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "header lists tensor 'a' twice");
    writeSafetensors(p, R"({"a":{"dtype":"F32","shape":[1],"shape":[2],"data_offsets":[0,4]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "header entry 'a' has the key 'shape' twice");
    writeSafetensors(p,
                     R"({"__metadata__":{"format":"pt","format":"np"},)"
                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                     4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "header entry '__metadata__' has the key 'format' twice");
}

void TestParserRegressions::safetensorsOffsets() {
    const fs::path p = tmp("offsets.safetensors");
    writeSafetensors(p,
                     R"({"x":{"dtype":"U8","shape":[89],"data_offsets":[10,99]},)"
                     R"("w":{"dtype":"U8","shape":[10],"data_offsets":[0,10]}})",
                     40);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'x': data_offsets [10, 99] exceed the data buffer (40 bytes)");
    writeSafetensors(p,
                     R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                     R"("x":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                     12);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'x': data_offsets [4, 12] overlap tensor 'w' [0, 8]");
    // Offsets near 2^64 must not wrap around the bounds check.
    writeSafetensors(
        p,
        R"({"x":{"dtype":"U8","shape":[3],"data_offsets":[18446744073709551612,18446744073709551615]}})",
        4);
    QVERIFY_ERROR(
        rs::SafetensorsFile::open(p), p.string(),
        "tensor 'x': data_offsets [18446744073709551612, 18446744073709551615] exceed the "
        "data buffer (4 bytes)");
}

void TestParserRegressions::ggufOffsetWrapsAround() {
    // 8 floats at offset 2^64 - 32: the end of the tensor wrapped around to the data start.
    const fs::path p = tmp("wrap.gguf");
    writeGguf(p, {8}, ~uint64_t(31), 32);
    QVERIFY_ERROR(rs::gguf::File::open(p), p.string(),
                  "tensor 't' at offset 18446744073709551584 with 32 bytes lies outside the file");
}

void TestParserRegressions::ggufSizeOverflows() {
    // 4 x 2^62 floats: the byte count wrapped around to 0.
    const fs::path p = tmp("huge.gguf");
    writeGguf(p, {4, uint64_t(1) << 62}, 0, 32);
    QVERIFY_ERROR(rs::gguf::File::open(p), p.string(),
                  "tensor 't' has the impossible shape [4611686018427387904, 4]");
    writeGguf(p, {uint64_t(1) << 63}, 0, 32);
    QVERIFY_ERROR(rs::gguf::File::open(p), p.string(),
                  "tensor 't' has a dimension of 9223372036854775808 elements");
    writeGguf(p, {0}, 0, 32);
    QVERIFY_ERROR(rs::gguf::File::open(p), p.string(), "tensor 't' has the impossible shape [0]");
}

void TestParserRegressions::overridePatternBacktracks() {
    // Stacked quantifiers made the backtracking matcher take minutes on one 30-character name.
    const std::string rule = "lae?+++++*0+:2.=1";
    rs::PlanConstraints constraints;
    constraints.overrides.push_back(rs::parseRankRule(rule));
    std::vector<std::string> names;
    for (const char* linear : {"self_attn.q_proj", "self_attn.o_proj", "mlp.down_proj"})
        names.push_back(std::string("model.layers.0.") + linear);
    QElapsedTimer timer;
    timer.start();
    QVERIFY_ERROR(rs::resolveConstraints(constraints, names, {64, 64, 64}),
                  "override '" + rule + "'", "matches no layer");
    QVERIFY(timer.elapsed() < 5000);
    // libstdc++ overflowed a long reading these numbers.
    QVERIFY_ERROR(rs::parseRankRule("!!m\\2333333333333333333333333333=1"),
                  "override '!!m\\2333333333333333333333333333=1'",
                  "a repeat count or back-reference has more than 9 digits");
    QVERIFY_ERROR(rs::patternMatches("q_proj{1,99999999999999999999}", "q_proj"),
                  "pattern 'q_proj{1,99999999999999999999}'",
                  "a repeat count or back-reference has more than 9 digits");
    QVERIFY(rs::patternMatches("layers\\.1\\d{0,3}\\.mlp", "model.layers.12.mlp"));
    // Back-references, which only a backtracking matcher can run, are refused as invalid.
    QVERIFY_ERROR(rs::parseRankRule("(a)\\1=4"), "override '(a)\\1=4'",
                  "not a valid regular expression");
}

void TestParserRegressions::tokenizerJsonIdOutOfRange() {
    const fs::path p = tmp("tokenizer.json");
    // A float id was converted to int32 with undefined behaviour.
    writeBytes(p, byteLevelTokenizer(R"({"a":0,"b":5e35})"));
    QVERIFY_ERROR(rs::loadHfTokenizerJson(p), p.string(),
                  "token \"b\" has the id 5e+35, not a whole number from 0 to 16777215");
    writeBytes(p, byteLevelTokenizer(R"({"a":0,"b":-3})"));
    QVERIFY_ERROR(rs::loadHfTokenizerJson(p), p.string(), "token \"b\" has the id -3");
    writeBytes(p, R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},)"
                  R"("added_tokens":[{"id":2147483647,"content":"<s>"}],)"
                  R"("pre_tokenizer":{"type":"ByteLevel"}})");
    QVERIFY_ERROR(rs::loadHfTokenizerJson(p), p.string(), "token \"<s>\" has the id 2147483647");
    // An id within range but far beyond the vocabulary asked for a table of millions of pieces.
    writeBytes(p, byteLevelTokenizer(R"({"a":0,"b":4000000})"));
    QVERIFY_ERROR(rs::loadHfTokenizerJson(p), p.string(),
                  "token ids reach 4000000, but only 2 tokens are defined");
}

QTEST_GUILESS_MAIN(TestParserRegressions)
#include "tst_parser_regressions.moc"
