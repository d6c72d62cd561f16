// Every malformed input the checkpoint readers can meet, each built in a temporary directory
// from bytes or from a patched copy of the real model; every error must be one line naming the
// file and the problem.
#include "io/checkpoint.h"
#include "io/hfconfig.h"
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "testfiles.h"
#include "util/error.h"

#include <QTemporaryDir>
#include <QTest>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace fs = std::filesystem;

namespace {

using rs::test::errorOf;
using rs::test::readBytes;
using rs::test::writeBytes;

// A safetensors file from a header text and a data buffer of `dataBytes` zero bytes.
fs::path makeSafetensors(const fs::path& path, const std::string& header, size_t dataBytes) {
    const uint64_t length = header.size();
    std::string bytes(reinterpret_cast<const char*>(&length), 8);
    writeBytes(path, bytes + header + std::string(dataBytes, '\0'));
    return path;
}

const fs::path kRealSafetensors = rs::test::stories260K() / "model.safetensors";
const fs::path kRealLlama2c = rs::test::dataPath("llama2c/stories260K.bin");

} // namespace

class TestIoErrors : public QObject {
    Q_OBJECT
private slots:
    void init() { QVERIFY(m_tmp.isValid()); }
    void truncatedSafetensors();
    void badHeaderLength();
    void badOffsets();
    void badHeaderContent();
    void missingAndMisshapenTensors();
    void badConfig();
    void badShards();
    void llama2cSizeMismatch();
    void badPaths();

private:
    fs::path tmp() const { return fs::path(m_tmp.path().toStdString()); }
    // A model directory with the real config.json and the real tensors, edited by `edit`.
    fs::path modelDir(const std::string& name,
                      const std::function<void(std::vector<rs::NamedTensor>&)>& edit) const {
        const fs::path dir = tmp() / name;
        fs::create_directories(dir);
        fs::copy_file(rs::test::stories260K() / "config.json", dir / "config.json");
        fs::permissions(dir / "config.json", fs::perms::owner_write, fs::perm_options::add);
        std::vector<rs::NamedTensor> tensors = rs::loadCheckpoint(rs::test::stories260K()).tensors;
        edit(tensors);
        rs::writeSafetensors(dir / "model.safetensors", tensors);
        return dir;
    }

    QTemporaryDir m_tmp;
};

void TestIoErrors::truncatedSafetensors() {
    const std::string real = readBytes(kRealSafetensors);
    const fs::path cut = tmp() / "cut.safetensors";
    writeBytes(cut, real.substr(0, real.size() - 100));
    QVERIFY_ERROR(rs::SafetensorsFile::open(cut), cut.string(),
                  "tensor 'model.norm.weight': data_offsets [1039872, 1040128] exceed the data "
                  "buffer (1040028 bytes)");
    writeBytes(cut, real.substr(0, 4000)); // cut inside the header
    QVERIFY_ERROR(rs::SafetensorsFile::open(cut), cut.string(),
                  "header length 4960 exceeds the file size (4000 bytes)");
    writeBytes(cut, real.substr(0, 5));
    QVERIFY_ERROR(rs::SafetensorsFile::open(cut), cut.string(),
                  "file too small for a safetensors header (5 bytes)");
    // A model directory whose weights are truncated names the weights file.
    const fs::path dir = tmp() / "cutdir";
    fs::create_directories(dir);
    fs::copy_file(rs::test::stories260K() / "config.json", dir / "config.json");
    writeBytes(dir / "model.safetensors", real.substr(0, real.size() - 1));
    QVERIFY_ERROR(rs::loadCheckpoint(dir), (dir / "model.safetensors").string(), "exceed the data");
}

void TestIoErrors::badHeaderLength() {
    std::string real = readBytes(kRealSafetensors);
    const fs::path path = tmp() / "len.safetensors";
    uint64_t length = real.size(); // beyond the file
    std::memcpy(real.data(), &length, 8);
    writeBytes(path, real);
    QVERIFY_ERROR(rs::SafetensorsFile::open(path), path.string(),
                  "header length 1045096 exceeds the file size (1045096 bytes)");
    length = 9'000'000'000'000'000'000ull; // must be refused before any allocation
    std::memcpy(real.data(), &length, 8);
    writeBytes(path, real);
    QVERIFY_ERROR(rs::SafetensorsFile::open(path), path.string(),
                  "header length 9000000000000000000 exceeds the limit of 100000000 bytes");
}

void TestIoErrors::badOffsets() {
    const fs::path p = tmp() / "off.safetensors";
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'a': data_offsets [0, 16] exceed the data buffer (8 bytes)");
    makeSafetensors(p,
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                        "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    12);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]");
    makeSafetensors(p,
                    R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                        "b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                    12);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'b': data_offsets [8, 12] leave a gap of 4 bytes after offset 4");
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'a': data_offsets [0, 8] span 8 bytes but F32 [3] needs 12 bytes");
    makeSafetensors(p, R"({"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "span 4 bytes but BF16 [2, 2] needs 8 bytes");
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "data_offsets [4, 0] are reversed");
    makeSafetensors(p, R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", 6);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "data buffer has 4 bytes after the last tensor");
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "must hold non-negative integers");
    makeSafetensors(
        p, R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "overflows");
}

void TestIoErrors::badHeaderContent() {
    const fs::path p = tmp() / "hdr.safetensors";
    makeSafetensors(p, R"({"a":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'a': unsupported dtype 'F8_E4M3' (supported: F32, F16, BF16, F64, I64, "
                  "I32, I16, I8, U8, BOOL)");
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "header is not valid JSON (");
    makeSafetensors(p, R"(["not", "an", "object"])", 0);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "header is not a JSON object");
    makeSafetensors(p, R"({"a":{"dtype":"F32","shape":[1]}})", 4);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "tensor 'a': header entry needs \"dtype\", \"shape\" and \"data_offsets\"");
    makeSafetensors(p, R"({"__metadata__":{"n":1}})", 0);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(),
                  "__metadata__ value of 'n' is not a string");
    makeSafetensors(p, "{\"\xff\":1}", 0);
    QVERIFY_ERROR(rs::SafetensorsFile::open(p), p.string(), "header is not valid JSON (");
}

void TestIoErrors::missingAndMisshapenTensors() {
    const std::string upProj = "model.layers.3.mlp.up_proj.weight";
    const fs::path missing = modelDir("missing", [&](std::vector<rs::NamedTensor>& t) {
        std::erase_if(t, [&](const rs::NamedTensor& n) { return n.name == upProj; });
    });
    QVERIFY_ERROR(rs::loadCheckpoint(missing), (missing / "model.safetensors").string(),
                  "missing tensor " + upProj);

    const fs::path shape = modelDir("shape", [&](std::vector<rs::NamedTensor>& t) {
        for (auto& n : t)
            if (n.name == upProj)
                n.tensor = n.tensor.t().contiguous();
    });
    QVERIFY_ERROR(rs::loadCheckpoint(shape), (shape / "model.safetensors").string(),
                  "tensor " + upProj + " has shape [64, 172], expected [172, 64]");

    const fs::path dtype = modelDir("dtype", [&](std::vector<rs::NamedTensor>& t) {
        for (auto& n : t)
            if (n.name == "model.norm.weight")
                n.tensor = n.tensor.to(at::kInt);
    });
    QVERIFY_ERROR(rs::loadCheckpoint(dtype), (dtype / "model.safetensors").string(),
                  "tensor model.norm.weight has dtype I32, expected a floating-point type");

    // attention_bias: true makes the q/k/v (and, for llama, o) biases required.
    const fs::path bias = modelDir("bias", [](std::vector<rs::NamedTensor>&) {});
    std::string config = readBytes(bias / "config.json");
    config.replace(config.find("\"attention_bias\": false"), 23, "\"attention_bias\": true");
    writeBytes(bias / "config.json", config);
    QVERIFY_ERROR(rs::loadCheckpoint(bias), (bias / "model.safetensors").string(),
                  "missing tensor model.layers.0.self_attn.q_proj.bias");
}

void TestIoErrors::badConfig() {
    const fs::path dir = modelDir("config", [](std::vector<rs::NamedTensor>&) {});
    const fs::path cfg = dir / "config.json";
    const std::string real = readBytes(cfg);
    // The real config.json with some text replaced.
    const auto withConfig = [&](std::vector<std::pair<std::string, std::string>> edits) {
        std::string text = real;
        for (const auto& [from, to] : edits) {
            const size_t at = text.find(from);
            QVERIFY2(at != std::string::npos, from.c_str());
            text.replace(at, from.size(), to);
        }
        writeBytes(cfg, text);
    };

    withConfig({{"\"model_type\": \"llama\"", "\"model_type\": \"gpt2\""}});
    QCOMPARE(errorOf([&] { rs::loadCheckpoint(dir); }),
             cfg.string() + ": unsupported model_type 'gpt2' (supported: llama, mistral, qwen2)");
    withConfig({{"\"head_dim\": 8,", ""}, {"\"hidden_size\": 64", "\"hidden_size\": 60"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "hidden_size 60 is not divisible by num_attention_heads 8 (and no head_dim is "
                  "given)");
    withConfig({{"\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "num_attention_heads 8 is not a multiple of num_key_value_heads 3");
    withConfig({{"\"num_hidden_layers\": 5", "\"num_hidden_layers\": 0"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "num_hidden_layers must be positive (got 0)");
    withConfig({{"\"vocab_size\": 512,", ""}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(), "missing required key 'vocab_size'");
    withConfig({{"\"hidden_size\": 64", "\"hidden_size\": \"64\""}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "'hidden_size' must be an integer (got string \"64\")");
    withConfig({{"\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\""}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "unsupported hidden_act 'gelu' (supported: silu)");
    withConfig({{"\"rope_theta\": 10000.0", "\"rope_scaling\": {\"rope_type\": \"yarn\", "
                                            "\"factor\": 4.0}"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "unsupported rope_scaling type 'yarn' (supported: llama3, linear)");
    withConfig({{"\"rope_theta\": 10000.0",
                 "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                 "\"low_freq_factor\": 4.0, \"high_freq_factor\": 4.0, "
                 "\"original_max_position_embeddings\": 8192}"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(),
                  "rope_scaling needs 0 < low_freq_factor < high_freq_factor");
    withConfig({{"\"eos_token_id\": 2", "\"eos_token_id\": [2, -1]"}});
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(), "'eos_token_id' -1 is out of range");

    writeBytes(cfg, real.substr(0, real.size() / 2));
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(), "not valid JSON (parse error at line");
    writeBytes(cfg, "[1, 2]");
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(), "not a JSON object");
    fs::remove(cfg);
    QVERIFY_ERROR(rs::loadCheckpoint(dir), cfg.string(), "no such text file");
}

void TestIoErrors::badShards() {
    const fs::path dir = tmp() / "sharded";
    fs::create_directories(dir);
    fs::copy_file(rs::test::stories260K() / "config.json", dir / "config.json");
    const auto tensors = rs::loadCheckpoint(rs::test::stories260K()).tensors;
    const auto shards = rs::writeShardedSafetensors(dir, tensors, 300'000);
    QCOMPARE(shards.size(), size_t(4));
    const fs::path index = dir / "model.safetensors.index.json";
    const std::string realIndex = readBytes(index);
    const auto withIndex = [&](const std::function<void(nlohmann::json&)>& edit) {
        nlohmann::json json = nlohmann::json::parse(realIndex);
        edit(json["weight_map"]);
        writeBytes(index, json.dump());
    };

    // A tensor the index sends to a shard that does not hold it.
    withIndex([&](nlohmann::json& map) { map["model.norm.weight"] = shards[0]; });
    QVERIFY_ERROR(rs::loadCheckpoint(dir), (dir / shards[0]).string(),
                  "missing tensor model.norm.weight (listed in model.safetensors.index.json)");
    // A path out of the model directory.
    withIndex([&](nlohmann::json& map) { map["model.norm.weight"] = "../x.safetensors"; });
    QVERIFY_ERROR(rs::loadCheckpoint(dir), index.string(),
                  "weight_map names '../x.safetensors', which is not a file in the directory");
    // A tensor missing from the index altogether.
    withIndex([&](nlohmann::json& map) { map.erase("model.norm.weight"); });
    QVERIFY_ERROR(rs::loadCheckpoint(dir), index.string(), "missing tensor model.norm.weight");

    writeBytes(index, "{\"metadata\": {}}");
    QVERIFY_ERROR(rs::loadCheckpoint(dir), index.string(), "has no \"weight_map\" object");
    writeBytes(index, "{\"weight_map\": ");
    QVERIFY_ERROR(rs::loadCheckpoint(dir), index.string(), "not valid JSON (");

    writeBytes(index, realIndex);
    fs::remove(dir / shards[1]);
    QVERIFY_ERROR(rs::loadCheckpoint(dir), index.string(), "missing shard " + shards[1]);
    fs::remove(index);
    QVERIFY_ERROR(rs::loadCheckpoint(dir), dir.string(),
                  "no model.safetensors or model.safetensors.index.json");
}

void TestIoErrors::llama2cSizeMismatch() {
    const std::string real = readBytes(kRealLlama2c);
    const fs::path p = tmp() / "model.bin";
    writeBytes(p, real.substr(0, real.size() - 4));
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(),
                  "file size 1056536 bytes does not match its header (expected 1056540 bytes for "
                  "dim 64, hidden_dim 172, n_layers 5, n_heads 8, n_kv_heads 4, vocab_size 512, "
                  "seq_len 512)");
    writeBytes(p, real + std::string(4, '\0'));
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(),
                  "file size 1056544 bytes does not match its header (expected 1056540 bytes");
    writeBytes(p, real.substr(0, 20));
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(), "too small for a llama2.c header (20 bytes");

    std::string patched = real;
    const int32_t badHeads = 3; // 64 is not divisible by 3
    std::memcpy(patched.data() + 12, &badHeads, 4);
    writeBytes(p, patched);
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(), "inconsistent header");
    const int32_t hugeLayers = 0x7fffffff;
    patched = real;
    std::memcpy(patched.data() + 8, &hugeLayers, 4);
    writeBytes(p, patched);
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(), "does not match its header");
    writeBytes(p, std::string(28, '\0') + std::string(100, 'x'));
    QVERIFY_ERROR(rs::loadCheckpoint(p), p.string(), "not a llama2.c checkpoint");
}

void TestIoErrors::badPaths() {
    const fs::path none = tmp() / "none";
    QVERIFY_ERROR(rs::loadCheckpoint(none), none.string(), "no such file or directory");
    QVERIFY_ERROR(rs::loadCheckpoint(tmp() / "none.bin"), (tmp() / "none.bin").string(),
                  "no such file");
    const fs::path txt = tmp() / "weights.txt";
    writeBytes(txt, "hello");
    QVERIFY_ERROR(rs::loadCheckpoint(txt), txt.string(), "not a checkpoint");
    QVERIFY_ERROR(rs::loadCheckpoint(rs::test::stories260K(), "int8"),
                  rs::test::stories260K().string(),
                  "unsupported dtype 'int8' (supported: float32, bfloat16, float16)");
    QVERIFY_ERROR(rs::SafetensorsFile::open(tmp()), tmp().string(), "not a regular file");
    QVERIFY_ERROR(rs::SafetensorsFile::open(none), none.string(),
                  "cannot open (No such file or directory)");
}

QTEST_GUILESS_MAIN(TestIoErrors)
#include "tst_io_errors.moc"
