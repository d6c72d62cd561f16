// GGUF v3 files and ggml's block encodings: the byte layout the specification and llama.cpp's
// reader require, read back; Q8_0/Q4_0 bytes that decode to exactly the grid's values.
#include "compress/ggml_quants.h"
#include "formats/ggml_pack.h"
#include "formats/gguf.h"
#include "io/safetensors.h"
#include "testdata.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <cstring>
#include <fstream>

namespace fs = std::filesystem;

namespace {

std::string fileBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

template <typename T> T field(const std::string& bytes, size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

std::vector<uint8_t> filled(uint64_t size, uint8_t value) {
    return std::vector<uint8_t>(size, value);
}

} // namespace

class TestGguf : public QObject {
    Q_OBJECT
private slots:
    void init() { QVERIFY(m_dir.isValid()); }
    void headerFollowsTheSpecification();
    void tensorsArePaddedAndReadBack();
    void blocksDecodeToTheGridValues();
    void q4NibblesHoldInputsJAndJPlus16();
    void badFilesAreRefusedWithTheirProblem();

private:
    fs::path path(const char* name) const { return fs::path(m_dir.path().toStdString()) / name; }
    QTemporaryDir m_dir;
};

// Magic, version 3, tensor and key counts as uint64, then each key as a uint64-length string and
// its uint32 value type: the bytes checked one by one.
void TestGguf::headerFollowsTheSpecification() {
    const fs::path file = path("header.gguf");
    rs::gguf::write(file,
                    {{"general.architecture", std::string("llama")},
                     {"llama.block_count", uint32_t(5)},
                     {"tokenizer.ggml.scores", std::vector<float>{0.5f, -1.0f}}},
                    {}, nullptr);
    const std::string b = fileBytes(file);
    QCOMPARE(b.substr(0, 4), std::string("GGUF"));
    QCOMPARE(field<uint32_t>(b, 4), uint32_t(3));
    QCOMPARE(field<uint64_t>(b, 8), uint64_t(0));  // tensors
    QCOMPARE(field<uint64_t>(b, 16), uint64_t(3)); // keys
    QCOMPARE(field<uint64_t>(b, 24), uint64_t(20));
    QCOMPARE(b.substr(32, 20), std::string("general.architecture"));
    QCOMPARE(field<uint32_t>(b, 52), uint32_t(8)); // STRING
    QCOMPARE(field<uint64_t>(b, 56), uint64_t(5));
    QCOMPARE(b.substr(64, 5), std::string("llama"));
    size_t o = 69 + 8 + 17;                       // "llama.block_count"
    QCOMPARE(field<uint32_t>(b, o), uint32_t(4)); // UINT32, as llama.cpp's reader demands
    QCOMPARE(field<uint32_t>(b, o + 4), uint32_t(5));
    o += 8 + 8 + 21;                                  // "tokenizer.ggml.scores"
    QCOMPARE(field<uint32_t>(b, o), uint32_t(9));     // ARRAY
    QCOMPARE(field<uint32_t>(b, o + 4), uint32_t(6)); // of FLOAT32
    QCOMPARE(field<uint64_t>(b, o + 8), uint64_t(2));
    QCOMPARE(field<float>(b, o + 16), 0.5f);
    QCOMPARE(field<float>(b, o + 20), -1.0f);
    QCOMPARE(b.size() % 32, size_t(0)); // padded to the alignment

    const rs::gguf::File read = rs::gguf::File::open(file);
    QCOMPARE(std::get<std::string>(*read.find("general.architecture")), std::string("llama"));
    QCOMPARE(std::get<uint32_t>(*read.find("llama.block_count")), uint32_t(5));
    QVERIFY(std::get<std::vector<float>>(*read.find("tokenizer.ggml.scores")) ==
            (std::vector<float>{0.5f, -1.0f}));
    QVERIFY(!read.find("general.name"));
}

// Offsets are the running sum of sizes padded to 32 (ggml's reader accepts nothing else), the
// shapes are stored reversed (ne[0] = a row's length) and the last tensor is padded too.
void TestGguf::tensorsArePaddedAndReadBack() {
    const fs::path file = path("tensors.gguf");
    const std::vector<rs::gguf::TensorInfo> tensors{
        {"a.weight", {2, 3}, rs::gguf::TensorType::F32},   // 24 bytes
        {"b.weight", {1, 32}, rs::gguf::TensorType::Q8_0}, // 34 bytes
        {"norm.weight", {3}, rs::gguf::TensorType::F16}};  // 6 bytes
    rs::gguf::write(file, {{"general.alignment", uint32_t(32)}}, tensors,
                    [&](size_t i) { return filled(tensors[i].byteSize(), uint8_t(i + 1)); });
    const rs::gguf::File read = rs::gguf::File::open(file);
    QCOMPARE(read.tensors().size(), size_t(3));
    QCOMPARE(read.dataOffset() % 32, uint64_t(0));
    const std::string b = fileBytes(file);
    QCOMPARE(uint64_t(b.size()), read.dataOffset() + 32 + 64 + 32);
    for (size_t i = 0; i < 3; ++i) {
        QVERIFY(read.tensors()[i].shape == tensors[i].shape);
        QCOMPARE(read.tensors()[i].type, tensors[i].type);
        const auto data = read.data(i);
        QCOMPARE(uint64_t(data.size()), tensors[i].byteSize());
        for (std::byte x : data)
            QCOMPARE(std::to_integer<int>(x), int(i + 1));
    }
    // The second tensor's info: name, 2 dims stored as ne = [32, 1], type 8, offset 32.
    const size_t info = b.find("b.weight") + 8;
    QCOMPARE(field<uint32_t>(b, info), uint32_t(2));
    QCOMPARE(field<uint64_t>(b, info + 4), uint64_t(32));
    QCOMPARE(field<uint64_t>(b, info + 12), uint64_t(1));
    QCOMPARE(field<uint32_t>(b, info + 20), uint32_t(8));
    QCOMPARE(field<uint64_t>(b, info + 24), uint64_t(32));
}

// Encoded Q8_0 and Q4_0 blocks of stories260K's q_proj decode to exactly the values the grid
// dequantizes to; F16 to the float16 rounding of the weight.
void TestGguf::blocksDecodeToTheGridValues() {
    const at::Tensor w = rs::SafetensorsFile::open(rs::test::stories260K() / "model.safetensors")
                             .tensor("model.layers.1.self_attn.q_proj.weight")
                             .to(at::kFloat);
    for (rs::GgmlBlockType type : {rs::GgmlBlockType::Q8_0, rs::GgmlBlockType::Q4_0}) {
        const rs::QuantGrid grid = rs::quantizeGgml(w, type, "q_proj");
        const std::vector<uint8_t> bytes = rs::encodeBlocks(grid, type, "q_proj");
        const rs::gguf::TensorType stored = rs::ggufTypeOf(type);
        QCOMPARE(uint64_t(bytes.size()), (rs::gguf::TensorInfo{"q", {64, 64}, stored}.byteSize()));
        const at::Tensor back =
            rs::decodeTensor(std::as_bytes(std::span(bytes)), stored, {64, 64}, "q_proj");
        QVERIFY(at::equal(back, rs::dequantize(grid)));
    }
    const std::vector<uint8_t> half = rs::encodeFloats(w, rs::gguf::TensorType::F16, "q_proj");
    QVERIFY(at::equal(rs::decodeTensor(std::as_bytes(std::span(half)), rs::gguf::TensorType::F16,
                                       {64, 64}, "q_proj"),
                      w.to(at::kHalf).to(at::kFloat)));
    // A weight beyond float16's range is refused, not stored as infinity.
    const std::string error = rs::test::errorOf(
        [&] { rs::encodeFloats(w * 1e5, rs::gguf::TensorType::F16, "big_proj"); });
    QVERIFY2(error.find("big_proj: has values that are not finite in F16") != std::string::npos,
             error.c_str());
}

// ggml's Q4_0 layout: byte j of a block's codes holds input j (low nibble) and j + 16 (high).
void TestGguf::q4NibblesHoldInputsJAndJPlus16() {
    std::vector<float> row(32, 0.0f);
    row[0] = -8.0f;  // d = 1: q = x + 8
    row[1] = 3.0f;   // q 11
    row[16] = -5.0f; // q 3
    row[17] = 7.0f;  // q 15
    const rs::QuantGrid grid =
        rs::quantizeGgml(at::tensor(row).reshape({1, 32}), rs::GgmlBlockType::Q4_0, "row");
    const std::vector<uint8_t> bytes = rs::encodeBlocks(grid, rs::GgmlBlockType::Q4_0, "row");
    QCOMPARE(bytes.size(), size_t(18));
    uint16_t scale;
    std::memcpy(&scale, bytes.data(), 2);
    QCOMPARE(scale, uint16_t(0x3C00)); // float16 1.0
    QCOMPARE(int(bytes[2]), 0x3 << 4 | 0x0);
    QCOMPARE(int(bytes[3]), 0xF << 4 | 0xB);
    QCOMPARE(int(bytes[4]), 0x8 << 4 | 0x8); // zeros
}

void TestGguf::badFilesAreRefusedWithTheirProblem() {
    const auto message = [](const std::function<void()>& f) { return rs::test::errorOf(f); };
    const fs::path good = path("good.gguf");
    const std::vector<rs::gguf::TensorInfo> one{{"w", {4, 32}, rs::gguf::TensorType::F32}};
    const auto produce = [&](size_t) { return filled(one[0].byteSize(), 7); };
    rs::gguf::write(good, {{"general.name", std::string("x")}}, one, produce);
    const std::string bytes = fileBytes(good);

    const fs::path cut = path("cut.gguf");
    std::ofstream(cut, std::ios::binary).write(bytes.data(), long(bytes.size() - 40));
    QVERIFY(message([&] { rs::gguf::File::open(cut); }).find("outside the file") !=
            std::string::npos);
    std::ofstream(cut, std::ios::binary).write(bytes.data(), 30);
    QVERIFY(message([&] { rs::gguf::File::open(cut); }).find("truncated GGUF file") !=
            std::string::npos);
    std::string other = bytes;
    other[0] = 'X';
    std::ofstream(cut, std::ios::binary).write(other.data(), long(other.size()));
    QCOMPARE(message([&] { rs::gguf::File::open(cut); }),
             cut.string() + ": not a GGUF file (no GGUF magic)");
    other = bytes;
    other[4] = 2;
    std::ofstream(cut, std::ios::binary).write(other.data(), long(other.size()));
    QVERIFY(message([&] { rs::gguf::File::open(cut); }).find("GGUF version 2") !=
            std::string::npos);

    const fs::path refused = path("refused.gguf");
    QVERIFY(message([&] {
                rs::gguf::write(refused, {}, {{std::string(64, 'n'), {32}, one[0].type}},
                                [](size_t) { return filled(128, 0); });
            }).find("longer than 63 bytes") != std::string::npos);
    QVERIFY(message([&] {
                rs::gguf::write(refused, {}, {{"w", {4, 20}, rs::gguf::TensorType::Q8_0}},
                                [](size_t) { return filled(0, 0); });
            }).find("blocks of 32") != std::string::npos);
    QVERIFY(message([&] {
                rs::gguf::write(refused, {}, one, [](size_t) { return filled(5, 0); });
            }).find("has 5 bytes, expected 512") != std::string::npos);
    QVERIFY(!fs::exists(refused)); // nothing half-written is left behind
}

QTEST_GUILESS_MAIN(TestGguf)
#include "tst_gguf.moc"
