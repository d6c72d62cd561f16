#include "io/checkpoint.h"
#include "io/dtype.h"
#include "io/hfconfig.h"
#include "io/llama2c.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "testdata.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/resource.h>

namespace fs = std::filesystem;

namespace {

using rs::test::errorOf;

// Bit-for-bit equality (torch's equal() would call -0 == 0 and NaN != NaN).
bool sameBits(const at::Tensor& a, const at::Tensor& b) {
    if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes())
        return false;
    const at::Tensor ca = a.contiguous(), cb = b.contiguous();
    return ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

int64_t parameterCount(const rs::Checkpoint& ckpt) {
    int64_t n = 0;
    for (const auto& t : ckpt.tensors)
        n += t.tensor.numel();
    return n;
}

std::vector<int64_t> shapeOf(const rs::Checkpoint& ckpt, const std::string& name) {
    return ckpt.require(name).sizes().vec();
}

fs::path tempPath(const QTemporaryDir& dir) {
    return fs::path(dir.path().toStdString());
}

} // namespace

class TestIo : public QObject {
    Q_OBJECT
private slots:
    void readsStories260K();
    void modelFileChangesAreContentChanges();
    void safetensorsFileApi();
    void convertsFloatDtypes();
    void llama2cMatchesSafetensors();
    void llama2cUnsharedClassifier();
    void writerRoundTripEveryDtype();
    void shardedRoundTrip();
    void failedWriteLeavesNoFile();
    void parsesConfigVariants();
};

void TestIo::readsStories260K() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    QCOMPARE(ckpt.format, std::string("safetensors"));
    const rs::ModelConfig& c = ckpt.config;
    QCOMPARE(c.modelType, std::string("llama"));
    QCOMPARE(c.hiddenSize, int64_t(64));
    QCOMPARE(c.intermediateSize, int64_t(172));
    QCOMPARE(c.numLayers, int64_t(5));
    QCOMPARE(c.numHeads, int64_t(8));
    QCOMPARE(c.numKvHeads, int64_t(4));
    QCOMPARE(c.headDim, int64_t(8));
    QCOMPARE(c.vocabSize, int64_t(512));
    QCOMPARE(c.maxPositions, int64_t(512));
    QCOMPARE(c.rmsNormEps, 1e-5);
    QCOMPARE(c.ropeTheta, 10000.0);
    QVERIFY(!c.ropeScaling);
    QVERIFY(c.tieWordEmbeddings);
    QVERIFY(!c.attentionBias);
    QCOMPARE(c.bosTokenId.value_or(-1), 1);
    QCOMPARE(c.eosTokenIds, std::vector<int32_t>{2});

    QCOMPARE(ckpt.tensors.size(), size_t(2 + 5 * 9));
    QCOMPARE(parameterCount(ckpt), int64_t(260032)); // the tied embedding counted once
    QCOMPARE(ckpt.tensors.front().name, std::string("model.embed_tokens.weight"));
    QCOMPARE(shapeOf(ckpt, "model.embed_tokens.weight"), (std::vector<int64_t>{512, 64}));
    QCOMPARE(shapeOf(ckpt, "model.layers.4.self_attn.q_proj.weight"),
             (std::vector<int64_t>{64, 64}));
    QCOMPARE(shapeOf(ckpt, "model.layers.0.self_attn.k_proj.weight"),
             (std::vector<int64_t>{32, 64}));
    QCOMPARE(shapeOf(ckpt, "model.layers.2.self_attn.v_proj.weight"),
             (std::vector<int64_t>{32, 64}));
    QCOMPARE(shapeOf(ckpt, "model.layers.3.mlp.gate_proj.weight"), (std::vector<int64_t>{172, 64}));
    QCOMPARE(shapeOf(ckpt, "model.layers.3.mlp.down_proj.weight"), (std::vector<int64_t>{64, 172}));
    QCOMPARE(shapeOf(ckpt, "model.layers.1.input_layernorm.weight"), (std::vector<int64_t>{64}));
    QCOMPARE(shapeOf(ckpt, "model.norm.weight"), (std::vector<int64_t>{64}));
    QVERIFY(ckpt.find("lm_head.weight") == nullptr);
    for (const auto& t : ckpt.tensors)
        QCOMPARE(t.tensor.scalar_type(), at::kFloat);
    // Real weights: finite, not all zero, norms near 1.
    QVERIFY(ckpt.require("model.embed_tokens.weight").isfinite().all().item<bool>());
    QVERIFY(ckpt.require("model.embed_tokens.weight").abs().sum().item<double>() > 0);

    const std::string err = errorOf([&] { ckpt.require("lm_head.weight"); });
    QCOMPARE(err, rs::test::stories260K().string() + ": missing tensor lm_head.weight");
}

void TestIo::safetensorsFileApi() {
    const auto path = rs::test::stories260K() / "model.safetensors";
    const rs::SafetensorsFile st = rs::SafetensorsFile::open(path);
    QCOMPARE(st.names().size(), size_t(47));
    QCOMPARE(st.names().front(), std::string("model.embed_tokens.weight")); // first in the file
    QCOMPARE(st.metadata().at("format"), std::string("pt"));
    QCOMPARE(st.dataSize(), uint64_t(fs::file_size(path) - 8 - 4960));
    const rs::TensorInfo& info = st.info("model.layers.0.self_attn.k_proj.weight");
    QCOMPARE(info.dtype, rs::DType::F32);
    QCOMPARE(info.shape, (std::vector<int64_t>{32, 64}));
    QCOMPARE(info.numel(), int64_t(2048));
    QCOMPARE(info.byteSize(), uint64_t(8192));
    QCOMPARE(info.begin, uint64_t(263680));
    const auto bytes = st.bytes("model.layers.0.self_attn.k_proj.weight");
    const at::Tensor t = st.tensor("model.layers.0.self_attn.k_proj.weight");
    QCOMPARE(bytes.size(), size_t(8192));
    QVERIFY(std::memcmp(bytes.data(), t.data_ptr(), bytes.size()) == 0);
    QVERIFY(st.contains("model.norm.weight"));
    QVERIFY(!st.contains("lm_head.weight"));
    QCOMPARE(errorOf([&] { st.info("nope"); }), path.string() + ": missing tensor nope");
}

void TestIo::convertsFloatDtypes() {
    const rs::Checkpoint f32 = rs::loadCheckpoint(rs::test::stories260K());
    for (const auto& [name, type] :
         {std::pair{"bfloat16", at::kBFloat16}, {"float16", at::kHalf}}) {
        const rs::Checkpoint low = rs::loadCheckpoint(rs::test::stories260K(), name);
        QCOMPARE(low.tensors.size(), f32.tensors.size());
        for (size_t i = 0; i < low.tensors.size(); ++i) {
            QCOMPARE(low.tensors[i].name, f32.tensors[i].name);
            QVERIFY(sameBits(low.tensors[i].tensor, f32.tensors[i].tensor.to(type)));
        }
    }
}

void TestIo::llama2cMatchesSafetensors() {
    const rs::Checkpoint hf = rs::loadCheckpoint(rs::test::stories260K());
    const rs::Checkpoint lc = rs::loadCheckpoint(rs::test::dataPath("llama2c/stories260K.bin"));
    QCOMPARE(lc.format, std::string("llama2.c"));
    const rs::ModelConfig &a = lc.config, &b = hf.config;
    QCOMPARE(a.hiddenSize, b.hiddenSize);
    QCOMPARE(a.intermediateSize, b.intermediateSize);
    QCOMPARE(a.numLayers, b.numLayers);
    QCOMPARE(a.numHeads, b.numHeads);
    QCOMPARE(a.numKvHeads, b.numKvHeads);
    QCOMPARE(a.headDim, b.headDim);
    QCOMPARE(a.vocabSize, b.vocabSize);
    QCOMPARE(a.maxPositions, b.maxPositions);
    QCOMPARE(a.rmsNormEps, b.rmsNormEps);
    QCOMPARE(a.ropeTheta, b.ropeTheta);
    QCOMPARE(a.tieWordEmbeddings, b.tieWordEmbeddings);
    QCOMPARE(a.bosTokenId, b.bosTokenId);
    QCOMPARE(a.eosTokenIds, b.eosTokenIds);

    QCOMPARE(lc.tensors.size(), hf.tensors.size());
    for (const auto& t : lc.tensors) {
        const at::Tensor* other = hf.find(t.name);
        QVERIFY2(other, t.name.c_str());
        QVERIFY2(sameBits(t.tensor, *other), t.name.c_str());
    }
    // Each imported tensor owns its storage (no view into the all-layer block of the file).
    const at::Tensor& wq = lc.require("model.layers.1.self_attn.q_proj.weight");
    QCOMPARE(wq.storage().nbytes(), size_t(wq.nbytes()));
}

void TestIo::llama2cUnsharedClassifier() {
    // The real file with vocab_size negated and a classifier appended: the unshared variant.
    QTemporaryDir tmp;
    const fs::path path = tempPath(tmp) / "unshared.bin";
    fs::copy_file(rs::test::dataPath("llama2c/stories260K.bin"), path);
    fs::permissions(path, fs::perms::owner_write, fs::perm_options::add);
    const at::Tensor wcls = at::arange(512 * 64, at::kFloat).reshape({512, 64}) / 1000.0;
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        const int32_t vocab = -512;
        f.seekp(20);
        f.write(reinterpret_cast<const char*>(&vocab), 4);
        f.seekp(0, std::ios::end);
        f.write(static_cast<const char*>(wcls.data_ptr()), wcls.nbytes());
        QVERIFY(f.good());
    }
    const rs::Checkpoint ckpt = rs::loadCheckpoint(path);
    QVERIFY(!ckpt.config.tieWordEmbeddings);
    QCOMPARE(ckpt.config.vocabSize, int64_t(512));
    QVERIFY(sameBits(ckpt.require("lm_head.weight"), wcls));
    QCOMPARE(parameterCount(ckpt), int64_t(260032 + 512 * 64));
}

void TestIo::writerRoundTripEveryDtype() {
    QTemporaryDir tmp;
    const fs::path path = tempPath(tmp) / "all.safetensors";
    const double kInf = std::numeric_limits<double>::infinity();
    const at::Tensor base = at::linspace(-3.5, 70000.0, 24, at::kDouble).reshape({2, 3, 4});
    at::Tensor special = at::tensor({0.0, -0.0, kInf, -kInf, std::nan(""), 1e-310});
    std::vector<rs::NamedTensor> tensors{
        {"f32", base.to(at::kFloat)},
        {"f16", at::cat({special, base.flatten()}).to(at::kHalf)}, // NaN/Inf written as they are
        {"bf16", base.to(at::kBFloat16)},
        {"f64", special},
        {"i64", at::tensor({int64_t(1) << 62, int64_t(-7), int64_t(0)})},
        {"i32", base.to(at::kInt).transpose(0, 2)}, // non-contiguous input
        {"i16", at::tensor({-32768, 32767, 5}).to(at::kShort)},
        {"i8", at::tensor({-128, 127, 0}).to(at::kChar)},
        {"u8", at::tensor({0, 255, 17}).to(at::kByte)},
        {"bool", at::tensor({1, 0, 1, 1}).to(at::kBool)},
        {"scalar", at::scalar_tensor(2.5, at::kFloat)},
        {"empty", at::empty({0, 3}, at::kFloat)},
        {"odd_f16", at::ones({3}, at::kHalf)}, // 6 bytes: must not misalign what follows
    };
    const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "caf\u00e9"}};
    rs::writeSafetensors(path, tensors, metadata);

    const rs::SafetensorsFile st = rs::SafetensorsFile::open(path);
    QCOMPARE(st.names().size(), tensors.size());
    QCOMPARE(st.metadata(), metadata);
    for (const auto& t : tensors) {
        const rs::TensorInfo& info = st.info(t.name);
        QCOMPARE(rs::toScalarType(info.dtype), t.tensor.scalar_type());
        QCOMPARE(info.begin % rs::dtypeSize(info.dtype), uint64_t(0));
        QVERIFY2(sameBits(st.tensor(t.name), t.tensor), t.name.c_str());
    }
    QCOMPARE(rs::dtypeName(st.info("bool").dtype), std::string_view("BOOL"));
    QCOMPARE(rs::dtypeName(st.info("bf16").dtype), std::string_view("BF16"));
    // On-demand conversion of half types; integers keep their type.
    QVERIFY(sameBits(st.tensor("bf16", at::kFloat), tensors[2].tensor.to(at::kFloat)));
    QVERIFY(sameBits(st.tensor("i8", at::kFloat), tensors[7].tensor));

    uint64_t headerLength = 0;
    std::ifstream(path, std::ios::binary).read(reinterpret_cast<char*>(&headerLength), 8);
    QCOMPARE(headerLength % 8, uint64_t(0));
    // Only the target is left in the directory: no temporary files.
    QCOMPARE(std::distance(fs::directory_iterator(tempPath(tmp)), fs::directory_iterator()),
             std::ptrdiff_t(1));

    // Overwriting replaces the file as a whole.
    rs::writeSafetensors(path, {{"only", at::zeros({2}, at::kFloat)}});
    QCOMPARE(rs::SafetensorsFile::open(path).names(), std::vector<std::string>{"only"});
    QVERIFY(rs::SafetensorsFile::open(path).metadata().empty());
}

void TestIo::shardedRoundTrip() {
    const rs::Checkpoint original = rs::loadCheckpoint(rs::test::stories260K());
    QTemporaryDir tmp;
    const fs::path dir = tempPath(tmp);
    const auto shards = rs::writeShardedSafetensors(dir, original.tensors, 300'000);
    QCOMPARE(shards.size(), size_t(4)); // 1,040,128 bytes of weights in shards of <= 300 kB
    QCOMPARE(shards.front(), std::string("model-00001-of-00004.safetensors"));
    fs::copy_file(rs::test::stories260K() / "config.json", dir / "config.json");

    std::ifstream indexFile(dir / "model.safetensors.index.json");
    const auto index = nlohmann::json::parse(indexFile);
    QCOMPARE(index["weight_map"].size(), original.tensors.size());
    QCOMPARE(index["metadata"]["total_size"].get<int64_t>(), parameterCount(original) * 4);

    const rs::Checkpoint back = rs::loadCheckpoint(dir);
    QCOMPARE(back.format, std::string("safetensors (4 shards)"));
    QCOMPARE(back.tensors.size(), original.tensors.size());
    for (size_t i = 0; i < back.tensors.size(); ++i) {
        QCOMPARE(back.tensors[i].name, original.tensors[i].name); // model order either way
        QVERIFY(sameBits(back.tensors[i].tensor, original.tensors[i].tensor));
    }
}

void TestIo::failedWriteLeavesNoFile() {
    QTemporaryDir tmp;
    const fs::path dir = tempPath(tmp);
    const fs::path path = dir / "big.safetensors";
    rs::writeSafetensors(path, {{"old", at::ones({4}, at::kFloat)}});

    // A file size limit makes write() fail part-way, as a full disk would.
    rlimit saved{};
    QCOMPARE(getrlimit(RLIMIT_FSIZE, &saved), 0);
    const auto previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved;
    limited.rlim_cur = 256 * 1024;
    QCOMPARE(setrlimit(RLIMIT_FSIZE, &limited), 0);
    const std::string err = errorOf([&] {
        rs::writeSafetensors(path, {{"w", at::zeros({1 << 20}, at::kFloat)}});
    });
    setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, previous);
    QVERIFY2(err.rfind(path.string() + ": write failed (File too large)", 0) == 0, err.c_str());
    // The old file is untouched and no temporary file is left behind.
    QCOMPARE(rs::SafetensorsFile::open(path).names(), std::vector<std::string>{"old"});
    QCOMPARE(std::distance(fs::directory_iterator(dir), fs::directory_iterator()),
             std::ptrdiff_t(1));

    const fs::path nowhere = dir / "missing-dir" / "x.safetensors";
    const std::string err2 = errorOf([&] { rs::writeSafetensors(nowhere, {}); });
    QVERIFY2(err2.rfind(nowhere.string() + ": cannot create a temporary file (No such file", 0) ==
                 0,
             err2.c_str());
    QVERIFY(!fs::exists(nowhere));

    const std::string err3 = errorOf([&] {
        rs::writeSafetensors(dir / "dup.safetensors", {{"a", at::ones({1})}, {"a", at::ones({1})}});
    });
    QCOMPARE(err3, (dir / "dup.safetensors").string() + ": duplicate tensor name 'a'");
    QVERIFY(!fs::exists(dir / "dup.safetensors"));
}

void TestIo::parsesConfigVariants() {
    const rs::ModelConfig qwen = rs::parseModelConfig(R"({
        "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
        "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
        "vocab_size": 151936, "max_position_embeddings": 32768, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "tie_word_embeddings": true, "bos_token_id": 151643,
        "eos_token_id": 151645, "torch_dtype": "bfloat16", "rope_scaling": null,
        "sliding_window": 32768, "hidden_act": "silu"})",
                                                      "qwen/config.json");
    QVERIFY(qwen.attentionBias); // implied for qwen2
    QCOMPARE(qwen.headDim, int64_t(64));
    QCOMPARE(qwen.numKvHeads, int64_t(2));
    QCOMPARE(qwen.ropeTheta, 1e6);
    QCOMPARE(qwen.torchDtype, std::string("bfloat16"));
    QCOMPARE(qwen.eosTokenIds, std::vector<int32_t>{151645});

    const rs::ModelConfig llama3 = rs::parseModelConfig(R"({
        "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
        "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": 64, "vocab_size": 128256, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000})",
                                                        "llama3/config.json");
    QVERIFY(llama3.ropeScaling);
    QCOMPARE(llama3.ropeScaling->type, std::string("llama3"));
    QCOMPARE(llama3.ropeScaling->factor, 32.0);
    QCOMPARE(llama3.ropeScaling->lowFreqFactor, 1.0);
    QCOMPARE(llama3.ropeScaling->highFreqFactor, 4.0);
    QCOMPARE(llama3.ropeScaling->originalMaxPositions, int64_t(8192));
    QCOMPARE(llama3.eosTokenIds, (std::vector<int32_t>{128001, 128008, 128009}));
    QVERIFY(!llama3.tieWordEmbeddings);
    QVERIFY(!llama3.attentionBias);

    // SmolLM2 is model_type llama; num_key_value_heads and head_dim take their defaults.
    const rs::ModelConfig smol = rs::parseModelConfig(R"({
        "model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
        "num_hidden_layers": 30, "num_attention_heads": 9, "vocab_size": 49152,
        "tie_word_embeddings": true, "rope_scaling": {"type": "linear", "factor": 2.0}})",
                                                      "smol/config.json");
    QCOMPARE(smol.numKvHeads, int64_t(9));
    QCOMPARE(smol.headDim, int64_t(64));
    QCOMPARE(smol.ropeScaling->type, std::string("linear"));
    QCOMPARE(smol.ropeScaling->factor, 2.0);
    QVERIFY(!smol.bosTokenId);
    QVERIFY(smol.eosTokenIds.empty());

    const rs::ModelConfig mistral = rs::parseModelConfig(R"({
        "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
        "head_dim": null, "vocab_size": 32000, "sliding_window": 4096})",
                                                         "mistral/config.json");
    QCOMPARE(mistral.headDim, int64_t(128));
    QCOMPARE(mistral.modelType, std::string("mistral"));
}

// A config re-indented or with its keys reordered is the same config (its hash differs); a changed
// value is named, as is a file added or removed.
void TestIo::modelFileChangesAreContentChanges() {
    const rs::ModelFile before{"config.json", "aa",
                               R"({"rope_theta": 10000.0, "hidden_size": 64})"};
    const rs::ModelFile reformatted{"config.json", "bb",
                                    "{\n    \"hidden_size\": 64,\n    \"rope_theta\": 10000\n}\n"};
    QVERIFY(rs::modelFileChanges({before}, {reformatted}).empty());
    const rs::ModelFile changed{"config.json", "cc", R"({"rope_theta": 5.0, "hidden_size": 64})"};
    QCOMPARE(rs::modelFileChanges({before}, {changed}),
             std::vector<std::string>{"config.json changed (rope_theta: 10000.0 -> 5.0)"});
    const rs::ModelFile tokenizer{"tokenizer.bin", "dd", {}};
    QCOMPARE(rs::modelFileChanges({before, tokenizer}, {before, {"tokenizer.bin", "ee", {}}}),
             std::vector<std::string>{"tokenizer.bin changed"});
    QCOMPARE(rs::modelFileChanges({before}, {before, tokenizer}),
             std::vector<std::string>{"tokenizer.bin was added"});
}

QTEST_GUILESS_MAIN(TestIo)
#include "tst_io.moc"
