// Stored experiments on stories260K written as GGUF exports: model.gguf holds llama.cpp's own
// Q8_0/Q4_0 blocks of W_c bit for bit, q/k rows in llama.cpp's RoPE order, the metadata and the
// llama2.c vocabulary as llama.cpp's "llama" tokenizer; adapter.gguf holds the factors at the scale
// llama.cpp applies; RankScope reads both back to the in-memory perplexity.
#include "compress/ggml_quants.h"
#include "export/export_writer.h"
#include "export/source_model.h"
#include "export_fixture.h"
#include "formats/ggml_pack.h"
#include "formats/gguf_model.h"
#include "gguf_fixture.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <fstream>

namespace fs = std::filesystem;
using namespace rs::test;

namespace {

const rs::gguf::TensorInfo& infoOf(const rs::gguf::File& file, const std::string& name) {
    for (const rs::gguf::TensorInfo& t : file.tensors())
        if (t.name == name)
            return t;
    throw rs::Error("no tensor " + name);
}

size_t indexOf(const rs::gguf::File& file, const std::string& name) {
    for (size_t i = 0; i < file.tensors().size(); ++i)
        if (file.tensors()[i].name == name)
            return i;
    throw rs::Error("no tensor " + name);
}

template <typename T> T valueOf(const rs::gguf::File& file, const std::string& key) {
    const rs::gguf::Value* v = file.find(key);
    if (!v || !std::holds_alternative<T>(*v))
        throw rs::Error("no " + key + " of the expected type");
    return std::get<T>(*v);
}

at::Tensor decoded(const rs::gguf::File& file, const std::string& name) {
    const size_t i = indexOf(file, name);
    return rs::decodeTensor(file.data(i), file.tensors()[i].type, file.tensors()[i].shape, name);
}

void truncate(const fs::path& file, uint64_t size) {
    fs::resize_file(file, size);
}

} // namespace

class TestGgufExport : public QObject, private ExportFixture {
    Q_OBJECT
private slots:
    void initTestCase();
    void qkRowsTakeLlamaCppsRopeOrder();
    void llama2cVocabularyAsLlamaCppReadsIt();
    void sentencePieceVocabularyIsTheModelsOwn();
    void q4BaseHoldsTheCompressedBlocksExactly();
    void adapterCarriesTheFactorsAtScaleOne();
    void mixedRanksBakeTheirScaleIntoB();
    void gridsLlamaCppHasNoTypeForAreStoredAsFloat();
    void paddedEmbeddingsGetUnusedPieces();
    void byteLevelBpeIsWrittenAsGpt2();
    void float16AndBfloat16();
    void damagedFilesAreNamed();

private:
    int64_t m_q4 = 0;
    rs::ExportResult m_q4Export;
};

void TestGgufExport::initTestCase() {
    QVERIFY(openFixture());
    m_q4 = record("q4_0");
    m_q4Export = exportTo(m_q4, rs::ExportFormat::Gguf, "q4");
}

// HF keeps a head's RoPE pairs half a head apart (rows i and i + d/2), llama.cpp adjacent.
void TestGgufExport::qkRowsTakeLlamaCppsRopeOrder() {
    rs::ModelConfig config;
    config.numHeads = 2;
    config.numKvHeads = 1;
    const at::Tensor rows = at::arange(8, at::kFloat).reshape({8, 1});
    const std::string q = "model.layers.0.self_attn.q_proj.weight";
    const at::Tensor llama = rs::gguf::toLlamaCppRows(rows, q, config);
    QVERIFY(at::equal(llama.flatten(), at::tensor({0, 2, 1, 3, 4, 6, 5, 7}, at::kFloat)));
    QVERIFY(at::equal(rs::gguf::fromLlamaCppRows(llama, q, config), rows));
    const at::Tensor k = rs::gguf::toLlamaCppRows(at::arange(8, at::kFloat).reshape({8, 1}),
                                                  "model.layers.0.self_attn.k_proj.weight", config);
    QVERIFY(at::equal(k.flatten(), at::tensor({0, 4, 1, 5, 2, 6, 3, 7}, at::kFloat)));
    QVERIFY(at::equal(
        rs::gguf::toLlamaCppRows(rows, "model.layers.0.self_attn.v_proj.weight", config), rows));
    QCOMPARE(*rs::gguf::tensorName("model.layers.4.mlp.down_proj.weight"),
             std::string("blk.4.ffn_down.weight"));
    QCOMPARE(*rs::gguf::tensorName("model.embed_tokens.weight"), std::string("token_embd.weight"));
    QVERIFY(!rs::gguf::tensorName("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

void TestGgufExport::llama2cVocabularyAsLlamaCppReadsIt() {
    const auto tokenizer = rs::loadTokenizerForModel(stories260K());
    const auto v = tokenizer->vocabulary();
    QVERIFY(v);
    QCOMPARE(v->pieces.size(), size_t(512));
    QCOMPARE(v->scores.size(), size_t(512));
    using Type = rs::Vocabulary::PieceType;
    QCOMPARE(v->pieces[0], std::string("<unk>"));
    QCOMPARE(v->types[0], Type::Unknown);
    QCOMPARE(v->pieces[1], std::string("<s>"));
    QCOMPARE(v->types[2], Type::Control);
    QCOMPARE(v->pieces[3], std::string("<0x00>"));
    QCOMPARE(v->types[258], Type::Byte);
    // Every piece that held a space spells it U+2581, and encodes to its own id.
    int64_t spelled = 0;
    for (size_t id = 259; id < v->pieces.size(); ++id) {
        QCOMPARE(v->types[id], Type::Normal);
        QVERIFY(v->pieces[id].find(' ') == std::string::npos);
        if (v->pieces[id].starts_with("\xE2\x96\x81"))
            ++spelled;
    }
    QCOMPARE(spelled, int64_t(91)); // the pieces of tokenizer.bin that start with a space
    QVERIFY(v->addSpacePrefix);
}

// Llama 2's tokenizer.model: its pieces, scores and types as stored.
void TestGgufExport::sentencePieceVocabularyIsTheModelsOwn() {
    const auto tokenizer =
        rs::loadSentencePieceModel(dataPath("tokenizers/llama2/tokenizer.model"));
    const auto v = tokenizer->vocabulary();
    QVERIFY(v);
    QCOMPARE(v->pieces.size(), size_t(32000));
    using Type = rs::Vocabulary::PieceType;
    QCOMPARE(v->pieces[0], std::string("<unk>"));
    QCOMPARE(v->types[0], Type::Unknown);
    QCOMPARE(v->unknownId, std::optional<int32_t>(0));
    QCOMPARE(v->types[1], Type::Control);
    QCOMPARE(v->pieces[13], std::string("<0x0A>"));
    QCOMPARE(std::count(v->types.begin(), v->types.end(), Type::Byte), 256);
    QCOMPARE(v->pieces[29871], std::string("\xE2\x96\x81")); // the space piece
    QVERIFY(v->scores[29871] < v->scores[300]);              // merged later than an early piece
    QVERIFY(v->addSpacePrefix);
    QCOMPARE(tokenizer->encode("Hello"), (std::vector<int32_t>{15043}));
    QCOMPARE(v->pieces[15043], std::string("\xE2\x96\x81Hello"));
}

void TestGgufExport::q4BaseHoldsTheCompressedBlocksExactly() {
    const rs::ExportResult& r = m_q4Export;
    QVERIFY(r.inMemory && r.reloaded);
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
    QVERIFY(!r.inRuntimeDtype); // llama.cpp's own arithmetic is checked by tst_llama_cpp
    const auto file = rs::gguf::File::open(r.path / rs::gguf::kModelFile);
    QCOMPARE(valueOf<std::string>(file, "general.architecture"), std::string("llama"));
    QCOMPARE(valueOf<uint32_t>(file, "general.file_type"), uint32_t(2)); // mostly Q4_0
    QCOMPARE(valueOf<uint32_t>(file, "llama.block_count"), uint32_t(5));
    QCOMPARE(valueOf<uint32_t>(file, "llama.attention.head_count_kv"), uint32_t(4));
    QCOMPARE(valueOf<std::string>(file, "tokenizer.ggml.model"), std::string("llama"));
    QCOMPARE(valueOf<std::vector<std::string>>(file, "tokenizer.ggml.tokens").size(), size_t(512));
    QCOMPARE(valueOf<uint32_t>(file, "tokenizer.ggml.bos_token_id"), uint32_t(1));
    // Tied embeddings: no output.weight, llama.cpp reuses token_embd.
    QVERIFY(rs::test::errorOf([&] { infoOf(file, "output.weight"); }).find("no tensor") !=
            std::string::npos);
    QCOMPARE(infoOf(file, "blk.0.attn_norm.weight").type, rs::gguf::TensorType::F32);
    QCOMPARE(infoOf(file, "token_embd.weight").type, rs::gguf::TensorType::F32);
    // d_in = 172 does not split into blocks: float, as llama-quantize keeps it.
    QCOMPARE(infoOf(file, "blk.3.ffn_down.weight").type, rs::gguf::TensorType::F32);

    // The stored blocks are exactly ggml's quantization of the original weight, q/k rows reordered.
    const rs::SourceModel source = rs::readSourceModel(stories260K());
    for (const char* kind : {"q_proj", "k_proj", "v_proj", "o_proj", "up_proj"}) {
        const std::string hf = linear(2, kind) + ".weight";
        const std::string name = *rs::gguf::tensorName(hf);
        QCOMPARE(infoOf(file, name).type, rs::gguf::TensorType::Q4_0);
        const at::Tensor original = source.files.read(hf).to(at::kFloat);
        const at::Tensor wc =
            rs::dequantize(rs::quantizeGgml(original, rs::GgmlBlockType::Q4_0, name));
        QVERIFY(at::equal(decoded(file, name), rs::gguf::toLlamaCppRows(wc, hf, source.config)));
    }
    const auto session = rs::ModelSession::open(r.path);
    QCOMPARE(session->exportSummary()->format, rs::ExportFormat::Gguf);
    QCOMPARE(session->exportSummary()->ggufBaseType, std::string("Q4_0"));
    QCOMPARE(session->exportSummary()->quantizedLayers, int64_t(30));
    QCOMPARE(session->lowRankLayers(), kLinears);
    QVERIFY(rs::describeExport(*session->exportSummary()).find("LoRA adapter rank 8 on 35") !=
            std::string::npos);
}

void TestGgufExport::adapterCarriesTheFactorsAtScaleOne() {
    const auto adapter = rs::gguf::File::open(m_q4Export.path / rs::gguf::kAdapterFile);
    QCOMPARE(valueOf<std::string>(adapter, "general.type"), std::string("adapter"));
    QCOMPARE(valueOf<std::string>(adapter, "adapter.type"), std::string("lora"));
    QCOMPARE(valueOf<float>(adapter, "adapter.lora.alpha"), float(kRank)); // alpha / r = 1
    QCOMPARE(adapter.tensors().size(), size_t(2 * kLinears));
    const auto& a = infoOf(adapter, "blk.1.attn_q.weight.lora_a");
    const auto& b = infoOf(adapter, "blk.1.attn_q.weight.lora_b");
    QCOMPARE(a.shape, (std::vector<int64_t>{kRank, 64}));
    QCOMPARE(b.shape, (std::vector<int64_t>{64, kRank}));
    // The export read back has q_proj's path B A with B in Hugging Face row order: the stored B
    // is that B with llama.cpp's rows.
    const rs::LoadedExport back = rs::loadExport(m_q4Export.path);
    const std::string q = linear(1, "q_proj");
    QVERIFY(at::equal(decoded(adapter, b.name),
                      rs::gguf::toLlamaCppRows(back.checkpoint.read(rs::lowRankTensorName(q, 1)),
                                               q + ".weight", back.checkpoint.config)));
}

// One alpha for the file: pairs of the most common rank are stored as they are, others carry
// r / alpha in B; read back (alpha / r applied as llama.cpp does) every pair is the original.
void TestGgufExport::mixedRanksBakeTheirScaleIntoB() {
    const rs::SourceModel source = rs::readSourceModel(stories260K());
    rs::ExportContent content;
    content.source = &source;
    content.adapterBase = "stories260K";
    at::manual_seed(5);
    const std::vector<std::pair<std::string, int64_t>> ranks{{linear(0, "v_proj"), 8},
                                                             {linear(0, "o_proj"), 8},
                                                             {linear(1, "up_proj"), 4},
                                                             {linear(1, "q_proj"), 4},
                                                             {linear(1, "k_proj"), 8}};
    for (const auto& [name, rank] : ranks) {
        const at::Tensor w = source.files.read(name + ".weight").to(at::kFloat);
        content.linears.push_back(
            {name, w, std::nullopt, {at::randn({w.size(0), rank}), at::randn({rank, w.size(1)})}});
    }
    const fs::path dir = m_root / "out" / "mixed";
    fs::create_directories(dir);
    const rs::WrittenExport written = rs::writeExport(dir, rs::ExportFormat::Gguf, content);
    QVERIFY(!written.runtimeNotes.empty());
    QVERIFY(written.runtimeNotes.back().find("mixes ranks") != std::string::npos);
    const auto adapter = rs::gguf::File::open(dir / rs::gguf::kAdapterFile);
    QCOMPARE(valueOf<float>(adapter, "adapter.lora.alpha"), 8.0f);
    QVERIFY(at::allclose(decoded(adapter, "blk.1.ffn_up.weight.lora_b"),
                         content.linears[2].factors.B * 0.5));
    QVERIFY(
        at::equal(decoded(adapter, "blk.0.attn_v.weight.lora_b"), content.linears[0].factors.B));
    // q/k: B's rows in llama.cpp's RoPE order (checked against an explicit order above), scaled
    // too when the rank is not alpha; A as it is.
    QVERIFY(at::allclose(decoded(adapter, "blk.1.attn_q.weight.lora_b"),
                         rs::gguf::toLlamaCppRows(content.linears[3].factors.B * 0.5,
                                                  linear(1, "q_proj") + ".weight", source.config)));
    QVERIFY(at::equal(decoded(adapter, "blk.1.attn_k.weight.lora_b"),
                      rs::gguf::toLlamaCppRows(content.linears[4].factors.B,
                                               linear(1, "k_proj") + ".weight", source.config)));
    QVERIFY(
        !at::equal(decoded(adapter, "blk.1.attn_k.weight.lora_b"), content.linears[4].factors.B));
    QVERIFY(
        at::equal(decoded(adapter, "blk.1.attn_q.weight.lora_a"), content.linears[3].factors.A));
    const rs::LoadedExport back = rs::loadExport(dir);
    for (const rs::ExportLinear& l : content.linears) {
        QVERIFY(at::allclose(back.checkpoint.read(rs::lowRankTensorName(l.name, 1)), l.factors.B,
                             1e-6, 1e-6));
        QVERIFY(at::equal(back.checkpoint.read(rs::lowRankTensorName(l.name, 0)), l.factors.A));
    }
    QCOMPARE(back.summary.minRank, int64_t(4));
    QCOMPARE(back.summary.maxRank, int64_t(8));
}

void TestGgufExport::gridsLlamaCppHasNoTypeForAreStoredAsFloat() {
    const rs::ExportResult r = exportTo(m_rtn4, rs::ExportFormat::Gguf, "rtn4");
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
    QCOMPARE(r.written.runtimeNotes.size(), size_t(1));
    QVERIFY(r.written.runtimeNotes[0].find("35 quantized linears are on a grid llama.cpp has no "
                                           "type for") != std::string::npos);
    const auto file = rs::gguf::File::open(r.path / rs::gguf::kModelFile);
    QCOMPARE(infoOf(file, "blk.0.attn_q.weight").type, rs::gguf::TensorType::F32);
    QCOMPARE(valueOf<uint32_t>(file, "general.file_type"), uint32_t(0));
    QVERIFY(rs::readTextFile(r.path / "README.md").find("--lora adapter.gguf") !=
            std::string::npos);
}

// 32000 SentencePiece pieces, 32064 embedding rows: llama.cpp needs one token per row.
void TestGgufExport::paddedEmbeddingsGetUnusedPieces() {
    const fs::path model = writeTinyLlama(m_root / "padded-model", 32064,
                                          {dataPath("tokenizers/llama2/tokenizer.model")}, 3);
    // A tokenizer.json beside it has no scores: tokenizer.model is the one written.
    std::ofstream(model / "tokenizer.json") << "{}";
    const fs::path dir = m_root / "out" / "padded";
    writeUnchangedGguf(model, dir);
    const auto file = rs::gguf::File::open(dir / rs::gguf::kModelFile);
    const auto tokens = valueOf<std::vector<std::string>>(file, "tokenizer.ggml.tokens");
    const auto types = valueOf<std::vector<int32_t>>(file, "tokenizer.ggml.token_type");
    QCOMPARE(tokens.size(), size_t(32064));
    QCOMPARE(tokens[15043], std::string("\xE2\x96\x81Hello")); // the model's own pieces
    QCOMPARE(tokens[32063], std::string("[PAD32063]"));
    QCOMPARE(types[32063], int32_t(rs::Vocabulary::PieceType::Unused));
    QCOMPARE(infoOf(file, "token_embd.weight").shape, (std::vector<int64_t>{32064, 32}));
    QCOMPARE(rs::loadExport(dir).summary.format, rs::ExportFormat::Gguf);
}

// GPT-2's vocab.json + merges.txt: llama.cpp's "gpt2" tokenizer with the GPT-2 split rules.
void TestGgufExport::byteLevelBpeIsWrittenAsGpt2() {
    const fs::path model = writeGpt2Llama(m_root / "gpt2-model", 4);
    const fs::path dir = m_root / "out" / "gpt2";
    writeUnchangedGguf(model, dir);
    const auto file = rs::gguf::File::open(dir / rs::gguf::kModelFile);
    QCOMPARE(valueOf<std::string>(file, "tokenizer.ggml.model"), std::string("gpt2"));
    QCOMPARE(valueOf<std::string>(file, "tokenizer.ggml.pre"), std::string("gpt-2"));
    const auto tokens = valueOf<std::vector<std::string>>(file, "tokenizer.ggml.tokens");
    QCOMPARE(tokens.size(), size_t(50257));
    QCOMPARE(tokens[995], std::string("\xC4\xA0world")); // "Ġworld": the byte-level spelling
    QCOMPARE(tokens[50256], std::string("<|endoftext|>"));
    const auto types = valueOf<std::vector<int32_t>>(file, "tokenizer.ggml.token_type");
    QCOMPARE(types[50256], int32_t(rs::Vocabulary::PieceType::Control));
    QCOMPARE(types[995], int32_t(rs::Vocabulary::PieceType::Normal));
    const auto merges = valueOf<std::vector<std::string>>(file, "tokenizer.ggml.merges");
    QCOMPARE(merges.size(), size_t(50000));
    QCOMPARE(merges[0], std::string("\xC4\xA0 t")); // merges.txt's first rule, "Ġ t"
    QCOMPARE(valueOf<uint32_t>(file, "tokenizer.ggml.bos_token_id"), uint32_t(50256));
    QVERIFY(!file.find("tokenizer.ggml.scores"));
}

void TestGgufExport::float16AndBfloat16() {
    const rs::ExportResult r = exportTo(m_q4, rs::ExportFormat::Gguf, "q4-f16", "float16");
    const auto file = rs::gguf::File::open(r.path / rs::gguf::kModelFile);
    QCOMPARE(infoOf(file, "token_embd.weight").type, rs::gguf::TensorType::F16);
    QCOMPARE(infoOf(file, "blk.0.attn_q.weight").type, rs::gguf::TensorType::Q4_0);
    QCOMPARE(infoOf(file, "output_norm.weight").type, rs::gguf::TensorType::F32);
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < 0.01);
    const std::string error =
        rs::test::errorOf([&] { exportTo(m_q4, rs::ExportFormat::Gguf, "q4-bf16", "bfloat16"); });
    QVERIFY2(error.find("float32 or float16") != std::string::npos, error.c_str());
    QVERIFY(!fs::exists(m_root / "out" / "q4-bf16"));
}

void TestGgufExport::damagedFilesAreNamed() {
    const fs::path copy = m_root / "damaged";
    fs::copy(m_q4Export.path, copy);
    const fs::path model = copy / rs::gguf::kModelFile;
    // A config.json that describes another model.
    const std::string config = rs::readTextFile(copy / "config.json");
    {
        std::ofstream out(copy / "config.json");
        std::string changed = config;
        const size_t at = changed.find("\"num_hidden_layers\": 5");
        QVERIFY(at != std::string::npos);
        changed.replace(at, 22, "\"num_hidden_layers\": 4");
        out << changed;
    }
    std::string error = rs::test::errorOf([&] { rs::ModelSession::open(copy); });
    QVERIFY2(error.find("model.gguf: llama.block_count is 5, but config.json says 4") !=
                 std::string::npos,
             error.c_str());
    {
        std::ofstream out(copy / "config.json");
        out << config;
    }
    truncate(copy / rs::gguf::kAdapterFile, 1000);
    error = rs::test::errorOf([&] { rs::ModelSession::open(copy); });
    QVERIFY2(error.find("adapter.gguf") != std::string::npos, error.c_str());
    truncate(model, fs::file_size(model) / 2);
    error = rs::test::errorOf([&] { rs::ModelSession::open(copy); });
    QVERIFY2(error.find("model.gguf") != std::string::npos, error.c_str());
}

QTEST_GUILESS_MAIN(TestGgufExport)
#include "tst_gguf_export.moc"
