#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/synthetic.h"
#include "testfiles.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

namespace fs = std::filesystem;

// Slices of real shapes (one decoder block, a 512-token vocabulary) keep every dimension of the
// real model at a fraction of its size: about 88 MiB for TinyLlama, 424 MiB for Llama 3 8B.
namespace {

constexpr int64_t kVocab = 512;
constexpr uint64_t kMiB = uint64_t(1) << 20;

rs::ScaleModelOptions sliceOptions(uint64_t seed = 7, uint64_t maxShardBytes = 32 * kMiB) {
    rs::ScaleModelOptions options;
    options.blocks = 1;
    options.vocab = kVocab;
    options.seed = seed;
    options.maxShardBytes = maxShardBytes;
    return options;
}

fs::path tempPath(const QTemporaryDir& dir, const std::string& name) {
    return fs::path(dir.path().toStdString()) / name;
}

nlohmann::json readJson(const fs::path& path) {
    return nlohmann::json::parse(rs::test::readBytes(path));
}

// Every tensor of a written directory: name -> (file, raw bytes), from the index or the single
// file, so that checkpoints with different shard layouts can be compared tensor by tensor.
std::map<std::string, std::string> tensorBytes(const fs::path& dir) {
    std::vector<fs::path> files;
    if (fs::exists(dir / "model.safetensors")) {
        files.push_back(dir / "model.safetensors");
    } else {
        const nlohmann::json index = readJson(dir / "model.safetensors.index.json");
        std::set<std::string> shards;
        for (const auto& [name, shard] : index["weight_map"].items())
            shards.insert(shard.get<std::string>());
        for (const auto& shard : shards)
            files.push_back(dir / shard);
    }
    std::map<std::string, std::string> out;
    for (const auto& file : files) {
        const auto st = rs::SafetensorsFile::open(file);
        for (const auto& name : st.names()) {
            const auto bytes = st.bytes(name);
            out[name] = std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        }
    }
    return out;
}

std::set<std::string> fileNames(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir))
        names.insert(entry.path().filename().string());
    return names;
}

bool isNorm(const std::string& name) {
    return name.ends_with("norm.weight");
}

} // namespace

class TestScaleModel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void knownShapes();
    void writesShapeSlice_data();
    void writesShapeSlice();
    void sameSeedSameBytes();
    void otherDtypes_data();
    void otherDtypes();
    void refusesBadOptions();

private:
    QTemporaryDir m_tmp;
    fs::path m_reference; // the TinyLlama slice, seed 7, bfloat16, shards of 32 MiB
};

void TestScaleModel::initTestCase() {
    QVERIFY(m_tmp.isValid());
    m_reference = tempPath(m_tmp, "reference");
    rs::writeScaleModel(m_reference, rs::scaleModelConfig("tinyllama-1.1b"), sliceOptions());
}

void TestScaleModel::knownShapes() {
    QCOMPARE(rs::scaleModelShapes(), (std::vector<std::string>{"tinyllama-1.1b", "llama3-8b"}));
    const rs::ModelConfig t = rs::scaleModelConfig("tinyllama-1.1b");
    QCOMPARE(t.numLayers, int64_t(22));
    QCOMPARE(t.vocabSize, int64_t(32000));
    QCOMPARE(t.maxPositions, int64_t(2048));
    QCOMPARE(t.ropeTheta, 10000.0);
    QCOMPARE(t.rmsNormEps, 1e-5);
    QVERIFY(!t.tieWordEmbeddings);
    QCOMPARE(*t.bosTokenId, 1);
    QCOMPARE(t.eosTokenIds, std::vector<int32_t>{2});
    const rs::ModelConfig l = rs::scaleModelConfig("llama3-8b");
    QCOMPARE(l.numLayers, int64_t(32));
    QCOMPARE(l.vocabSize, int64_t(128256));
    QCOMPARE(l.maxPositions, int64_t(8192));
    QCOMPARE(l.ropeTheta, 500000.0);
    QVERIFY(!l.tieWordEmbeddings);
    QCOMPARE(*l.bosTokenId, 128000);
    QCOMPARE(l.eosTokenIds, std::vector<int32_t>{128001});
    QVERIFY_ERROR(rs::scaleModelConfig("gpt-2"), "gpt-2",
                  "unknown model shape (known: tinyllama-1.1b, llama3-8b)");
}

void TestScaleModel::writesShapeSlice_data() {
    QTest::addColumn<QString>("shape");
    QTest::addColumn<qint64>("hidden");
    QTest::addColumn<qint64>("intermediate");
    QTest::addColumn<qint64>("heads");
    QTest::addColumn<qint64>("kvHeads");
    QTest::addColumn<qint64>("headDim");
    QTest::addColumn<qint64>("maxShardMiB");
    QTest::addColumn<QString>("tokenizerDir"); // relative to the shared data
    QTest::addColumn<QStringList>("copied");   // tokenizer files expected in the output
    QTest::addColumn<int>("skipped");          // tokenizer files left out
    // The Llama 2 tokenizer (32000 tokens) does not fit a 512-token vocabulary; stories260K's
    // tokenizer.bin (512 tokens) does.
    QTest::newRow("tinyllama-1.1b") << "tinyllama-1.1b" << 2048LL << 5632LL << 32LL << 4LL << 64LL
                                    << 32LL << "tokenizers/llama2" << QStringList{} << 2;
    QTest::newRow("llama3-8b") << "llama3-8b" << 4096LL << 14336LL << 32LL << 8LL << 128LL << 128LL
                               << "models/stories260K" << QStringList{"tokenizer.bin"} << 0;
}

void TestScaleModel::writesShapeSlice() {
    QFETCH(QString, shape);
    QFETCH(qint64, hidden);
    QFETCH(qint64, intermediate);
    QFETCH(qint64, heads);
    QFETCH(qint64, kvHeads);
    QFETCH(qint64, headDim);
    QFETCH(qint64, maxShardMiB);
    QFETCH(QString, tokenizerDir);
    QFETCH(QStringList, copied);
    QFETCH(int, skipped);

    const fs::path dir = tempPath(m_tmp, "slice-" + shape.toStdString());
    rs::ScaleModelOptions options = sliceOptions(7, uint64_t(maxShardMiB) * kMiB);
    options.tokenizerDir = rs::test::dataPath(tokenizerDir.toStdString());
    const rs::ScaleModelResult result =
        rs::writeScaleModel(dir, rs::scaleModelConfig(shape.toStdString()), options);

    // Hugging Face's sharded layout: every tensor in the index, in a shard that holds it as BF16.
    const nlohmann::json index = readJson(dir / "model.safetensors.index.json");
    std::map<std::string, std::unique_ptr<rs::SafetensorsFile>> shards;
    uint64_t totalBytes = 0;
    for (const auto& [name, shardValue] : index["weight_map"].items()) {
        const std::string shard = shardValue.get<std::string>();
        QVERIFY2(fs::is_regular_file(dir / shard), shard.c_str());
        auto& file = shards[shard];
        if (!file)
            file = std::make_unique<rs::SafetensorsFile>(rs::SafetensorsFile::open(dir / shard));
        QVERIFY2(file->contains(name), name.c_str());
        QCOMPARE(rs::dtypeName(file->info(name).dtype), std::string_view("BF16"));
        totalBytes += file->info(name).byteSize();
    }
    QVERIFY2(shards.size() >= 2, std::to_string(shards.size()).c_str());
    for (const auto& [shard, file] : shards) {
        QCOMPARE(file->metadata().at("format"), std::string("pt"));
        char suffix[32];
        std::snprintf(suffix, sizeof suffix, "-of-%05zu.safetensors", shards.size());
        QVERIFY2(shard.starts_with("model-") && shard.ends_with(suffix), shard.c_str());
    }
    QCOMPARE(index["metadata"]["total_size"].get<uint64_t>(), totalBytes);
    QCOMPARE(result.tensorBytes, totalBytes);

    const nlohmann::json config = readJson(dir / "config.json");
    QCOMPARE(config["torch_dtype"].get<std::string>(), std::string("bfloat16"));
    QCOMPARE(config["num_hidden_layers"].get<int64_t>(), int64_t(1));

    // Kept in bfloat16: the Llama 3 slice would take 850 MiB in float32.
    const rs::Checkpoint ckpt = rs::loadCheckpoint(dir, "bfloat16");
    QCOMPARE(ckpt.format, "safetensors (" + std::to_string(shards.size()) + " shards)");
    const rs::ModelConfig& c = ckpt.config;
    QCOMPARE(c.hiddenSize, int64_t(hidden));
    QCOMPARE(c.intermediateSize, int64_t(intermediate));
    QCOMPARE(c.numHeads, int64_t(heads));
    QCOMPARE(c.numKvHeads, int64_t(kvHeads));
    QCOMPARE(c.headDim, int64_t(headDim));
    QCOMPARE(c.numLayers, int64_t(1));
    QCOMPARE(c.vocabSize, kVocab);
    QVERIFY(!c.tieWordEmbeddings);
    // A vocabulary this small cannot hold Llama 3's special ids; they fall back to 1 and 2.
    QCOMPARE(*c.bosTokenId, 1);
    QCOMPARE(c.eosTokenIds, std::vector<int32_t>{2});
    QCOMPARE(ckpt.tensors.size(), size_t(index["weight_map"].size()));

    int64_t parameters = 0;
    for (const auto& t : ckpt.tensors) {
        parameters += t.tensor.numel();
        if (isNorm(t.name)) {
            QVERIFY2(at::all(t.tensor == 1.0).item<bool>(), t.name.c_str());
            continue;
        }
        // A million values pin the std to about 0.1 %; all of them would only cost time.
        const at::Tensor flat = t.tensor.flatten();
        const at::Tensor w =
            flat.narrow(0, 0, std::min<int64_t>(flat.numel(), 1 << 20)).to(at::kFloat);
        const double sd = w.std().item<double>(), mean = w.mean().item<double>();
        QVERIFY2(std::abs(sd - 0.02) < 0.0004, (t.name + ": std " + std::to_string(sd)).c_str());
        QVERIFY2(std::abs(mean) < 0.0005, (t.name + ": mean " + std::to_string(mean)).c_str());
    }
    QCOMPARE(result.parameters, parameters);
    QCOMPARE(ckpt.require("model.layers.0.self_attn.k_proj.weight").sizes().vec(),
             (std::vector<int64_t>{kvHeads * headDim, hidden}));
    QCOMPARE(ckpt.require("lm_head.weight").sizes().vec(), (std::vector<int64_t>{kVocab, hidden}));

    QCOMPARE(int(result.skipped.size()), skipped);
    for (const char* name : {"tokenizer.model", "tokenizer.bin"})
        QCOMPARE(fs::exists(dir / name), copied.contains(name));
    if (!copied.isEmpty())
        QCOMPARE(rs::loadTokenizerForModel(dir)->vocabSize(), int32_t(kVocab));
    // Every file reported exists with its size.
    for (const auto& [name, bytes] : result.files)
        QCOMPARE(uint64_t(fs::file_size(dir / name)), bytes);
}

void TestScaleModel::sameSeedSameBytes() {
    const rs::ModelConfig shape = rs::scaleModelConfig("tinyllama-1.1b");
    // Files of an earlier checkpoint are replaced; anything else stays.
    const fs::path again = tempPath(m_tmp, "again");
    fs::create_directories(again);
    rs::test::writeBytes(again / "model.safetensors", "stale");
    rs::test::writeBytes(again / "model-00009-of-00009.safetensors", "stale");
    rs::test::writeBytes(again / "notes.txt", "mine");
    rs::writeScaleModel(again, shape, sliceOptions());
    std::set<std::string> expected = fileNames(m_reference);
    expected.insert("notes.txt");
    QCOMPARE(fileNames(again), expected);
    for (const auto& name : fileNames(m_reference))
        QVERIFY2(rs::test::readBytes(again / name) == rs::test::readBytes(m_reference / name),
                 name.c_str());

    // One file instead of shards: the same tensors, byte for byte.
    const fs::path single = tempPath(m_tmp, "single");
    rs::writeScaleModel(single, shape, sliceOptions(7, uint64_t(1) << 30));
    QVERIFY(fs::exists(single / "model.safetensors"));
    QVERIFY(!fs::exists(single / "model.safetensors.index.json"));
    const auto reference = tensorBytes(m_reference);
    QCOMPARE(tensorBytes(single), reference);

    // Another seed, other weights (norms stay at 1).
    const fs::path other = tempPath(m_tmp, "other-seed");
    rs::writeScaleModel(other, shape, sliceOptions(8));
    const auto otherBytes = tensorBytes(other);
    for (const auto& [name, bytes] : reference)
        QVERIFY2((otherBytes.at(name) == bytes) == isNorm(name), name.c_str());
}

void TestScaleModel::otherDtypes_data() {
    QTest::addColumn<QString>("dtype");
    QTest::addColumn<QString>("stored");
    QTest::newRow("float32") << "float32"
                             << "F32";
    QTest::newRow("float16") << "float16"
                             << "F16";
}

void TestScaleModel::otherDtypes() {
    QFETCH(QString, dtype);
    QFETCH(QString, stored);
    const fs::path dir = tempPath(m_tmp, dtype.toStdString());
    rs::ScaleModelOptions options = sliceOptions();
    options.dtype = dtype.toStdString();
    rs::writeScaleModel(dir, rs::scaleModelConfig("tinyllama-1.1b"), options);
    QCOMPARE(readJson(dir / "config.json")["torch_dtype"].get<std::string>(), dtype.toStdString());

    // Every dtype holds the same float32 draws, rounded: bfloat16 of these is the reference.
    const rs::Checkpoint ckpt = rs::loadCheckpoint(dir, dtype.toStdString());
    const rs::Checkpoint reference = rs::loadCheckpoint(m_reference, "bfloat16");
    for (const auto& t : reference.tensors) {
        const at::Tensor& mine = ckpt.require(t.name);
        QCOMPARE(mine.scalar_type(), dtype == "float32" ? at::kFloat : at::kHalf);
        if (dtype == "float32")
            QVERIFY2(at::equal(mine.to(at::kBFloat16), t.tensor), t.name.c_str());
        else // float16 keeps 3 more mantissa bits than bfloat16
            QVERIFY2(at::allclose(mine.to(at::kFloat), t.tensor.to(at::kFloat), 1.0 / 128, 1e-7),
                     t.name.c_str());
    }
    const nlohmann::json index = readJson(dir / "model.safetensors.index.json");
    const std::string shard = index["weight_map"]["lm_head.weight"].get<std::string>();
    const auto st = rs::SafetensorsFile::open(dir / shard);
    QCOMPARE(std::string(rs::dtypeName(st.info("lm_head.weight").dtype)), stored.toStdString());
}

void TestScaleModel::refusesBadOptions() {
    const rs::ModelConfig shape = rs::scaleModelConfig("tinyllama-1.1b");
    const fs::path dir = tempPath(m_tmp, "refused");
    rs::ScaleModelOptions options = sliceOptions();
    options.blocks = 23;
    QVERIFY_ERROR(rs::writeScaleModel(dir, shape, options), "blocks",
                  "23 is not between 1 and the shape's 22");
    options = sliceOptions();
    options.dtype = "int8";
    QVERIFY_ERROR(rs::writeScaleModel(dir, shape, options), "dtype", "'int8'");
    options = sliceOptions();
    options.tokenizerDir = dir / "nowhere";
    QVERIFY_ERROR(rs::writeScaleModel(dir, shape, options), (dir / "nowhere").string(),
                  "is not a directory");
    // Refused before anything is written.
    QVERIFY(!fs::exists(dir));
}

QTEST_GUILESS_MAIN(TestScaleModel)
#include "tst_scale_model.moc"
