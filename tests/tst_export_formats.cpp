// Stored experiments on stories260K written as exports: GPTQ v1 base + PEFT adapter, merged and
// factorized checkpoints, each read back and re-evaluated; the GPTQ packing checked bit for bit
// against an unpacker written here.
#include "compress/rtn.h"
#include "export/export_job.h"
#include "export/source_model.h"
#include "export/verify_export.h"
#include "export_fixture.h"
#include "formats/gptq_pack.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace fs = std::filesystem;
using nlohmann::json;
using namespace rs::test;

namespace {

// bfloat16/float16 exports are only reported; this bound just catches a broken file.
constexpr double kHalfPrecisionSanity = 0.05;

// An unpacker independent of packBits: per-word bit fields for 2/4/8 bits, and AutoGPTQ's
// explicit 32-codes-in-3-words layout for 3 bits.
int64_t referenceCode(const at::Tensor& packed, int bits, int64_t k, int64_t column) {
    const auto word = [&](int64_t row) {
        return static_cast<uint32_t>(packed[row][column].item<int32_t>());
    };
    const uint32_t mask = (1u << bits) - 1;
    if (bits != 3) {
        const int64_t perWord = 32 / bits;
        return (word(k / perWord) >> (bits * (k % perWord))) & mask;
    }
    const int64_t base = (k / 32) * 3, j = k % 32;
    const uint32_t w0 = word(base), w1 = word(base + 1), w2 = word(base + 2);
    if (j < 10)
        return (w0 >> (3 * j)) & 7;
    if (j == 10)
        return (w0 >> 30) | ((w1 & 1) << 2);
    if (j < 21)
        return (w1 >> (3 * (j - 11) + 1)) & 7;
    if (j == 21)
        return (w1 >> 31) | ((w2 & 3) << 1);
    return (w2 >> (3 * (j - 22) + 2)) & 7;
}

const std::vector<std::string> kKinds{"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                      "gate_proj", "up_proj", "down_proj"};

std::string fileBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

} // namespace

class TestExportFormats : public QObject, private ExportFixture {
    Q_OBJECT
private slots:
    void initTestCase();
    void packingMatchesIndependentUnpacker();
    void gridsTheFormatCannotHoldAreNamed();
    void gptqPeftRoundTrip();
    void mergedRoundTripInEveryDtype();
    void factorizedRoundTrip();
    void eightBitExportKeepsNarrowWidthsDense();
    void actOrderGptqKeepsItsGroupIndex();
    void factorOnlyLayersRoundTrip();
    void fusedSiblingsStayTogether();
};

void TestExportFormats::initTestCase() {
    QVERIFY(openFixture());
    m_rtn8 = record("rtn:bits=8,group=-1");
}

void TestExportFormats::packingMatchesIndependentUnpacker() {
    at::manual_seed(11);
    for (int bits : {2, 3, 4, 8}) {
        const int64_t n = 96, m = 5; // 96 * 3 bits = 9 words: 3-bit codes straddle words
        const at::Tensor codes = at::randint(0, 1 << bits, {n, m}, at::kInt);
        const at::Tensor packed = rs::packBits(codes, bits);
        QCOMPARE(packed.scalar_type(), at::kInt);
        QCOMPARE(packed.size(0), n * bits / 32);
        for (int64_t c = 0; c < m; ++c)
            for (int64_t k = 0; k < n; ++k)
                QCOMPARE(referenceCode(packed, bits, k, c), int64_t(codes[k][c].item<int32_t>()));
        QVERIFY(at::equal(rs::unpackBits(packed, bits, n), codes));
    }
    QVERIFY(rs::test::errorOf([] {
                rs::packBits(at::zeros({12, 2}, at::kInt), 4);
            }).find("do not fill whole 32-bit words") != std::string::npos);
    QVERIFY(rs::test::errorOf([] {
                rs::packBits(at::full({8, 1}, 16, at::kInt), 4);
            }).find("does not fit in 4 bits") != std::string::npos);
}

void TestExportFormats::gridsTheFormatCannotHoldAreNamed() {
    at::manual_seed(12);
    const auto reason = [](int64_t dOut, int64_t dIn, int bits, int64_t group) {
        return rs::gptqIncompatibility(rs::quantizeRtn(at::randn({dOut, dIn}), bits, group, false))
            .value_or("");
    };
    QCOMPARE(reason(64, 64, 4, 32), std::string());
    // Widths that are not multiples of 32 stay dense at every bit width, 8 included (the bits
    // would fill whole words, but AutoGPTQ and vLLM's kernels still assume 32-wide steps).
    for (const int bits : {2, 3, 4, 8}) {
        QVERIFY(reason(64, 172, bits, -1).find("d_in = 172 is not a multiple of 32") !=
                std::string::npos);
        QVERIFY(reason(172, 64, bits, -1).find("d_out = 172 is not a multiple of 32") !=
                std::string::npos);
    }
    QCOMPARE(reason(96, 160, 8, -1), std::string());
    QVERIFY(reason(64, 96, 4, 64).find("not a multiple of the group size 64") != std::string::npos);
    QVERIFY(reason(64, 64, 3, 32).empty());
    // All-positive weights give zero point 0, which v1's "zero - 1" cannot store.
    const rs::QuantGrid positive = rs::quantizeRtn(at::rand({32, 64}) + 0.1, 4, 32, false);
    QVERIFY(rs::gptqIncompatibility(positive).value_or("").find("zero point 0") !=
            std::string::npos);

    // A loader's dequantisation of the packed tensors is the grid with float16 scales, exactly.
    const rs::QuantGrid grid = rs::quantizeRtn(at::randn({64, 64}), 3, 32, false);
    const rs::GptqTensors t = rs::toGptq(grid, "layer");
    rs::QuantGrid halfScales = grid;
    halfScales.scales = grid.scales.to(at::kHalf).to(at::kFloat);
    QVERIFY(at::equal(rs::dequantizeGptq(t, 3, "layer"), rs::dequantize(halfScales)));
}

void TestExportFormats::gptqPeftRoundTrip() {
    const rs::ExportResult r = exportTo(m_rtn4, rs::ExportFormat::GptqPeft, "gptq4");
    const fs::path dir = r.path;
    QVERIFY(r.inMemory && r.reloaded && r.storedPerplexity);
    QVERIFY(relative(r.inMemory->perplexity, *r.storedPerplexity) <
            rs::kReproducedPerplexityTolerance);
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
    qInfo("gptq+peft 4-bit: in memory %.6f, read back %.6f", r.inMemory->perplexity,
          r.reloaded->perplexity);
    // Also run as half-precision runtimes compute: bfloat16 on the CPU, a measurably different
    // number, and a small difference.
    QCOMPARE(r.runtimeDtype, std::string("bfloat16"));
    QVERIFY(r.inRuntimeDtype);
    QVERIFY(r.inRuntimeDtype->perplexity != r.reloaded->perplexity);
    QVERIFY(relative(r.inRuntimeDtype->perplexity, r.inMemory->perplexity) < 0.01);
    QVERIFY(rs::readTextFile(dir / "README.md").find("read back and run in bfloat16") !=
            std::string::npos);

    // d_out = 172 (gate/up) and d_in = 172 (down) are not multiples of 32.
    std::set<std::string> dense, expectedDense;
    for (const auto& [name, reason] : r.written.denseLayers) {
        dense.insert(name);
        QVERIFY(reason.find("172") != std::string::npos);
    }
    for (int64_t b = 0; b < 5; ++b)
        for (const char* kind : {"gate_proj", "up_proj", "down_proj"})
            expectedDense.insert(linear(b, kind));
    QCOMPARE(dense, expectedDense);
    QCOMPARE(r.written.quantizedLayers, int64_t(20));

    const json config = readJson(dir / "config.json");
    const json& q = config["quantization_config"];
    QCOMPARE(q["quant_method"].get<std::string>(), std::string("gptq"));
    QCOMPARE(q["bits"].get<int>(), 4);
    QCOMPARE(q["group_size"].get<int>(), 32);
    QCOMPARE(q["desc_act"].get<bool>(), false);
    QCOMPARE(q["sym"].get<bool>(), false);
    QCOMPARE(q["checkpoint_format"].get<std::string>(), std::string("gptq"));
    QVERIFY(q == readJson(dir / "quantize_config.json"));
    QCOMPARE(q["modules_to_not_convert"].size(), expectedDense.size());
    QVERIFY(q["dynamic"].contains("-:^model\\.layers\\.0\\.mlp\\.down_proj$"));
    QVERIFY(q["modules_in_block_to_quantize"] ==
            json::parse(R"([["self_attn.k_proj"],["self_attn.o_proj"],["self_attn.q_proj"],
                            ["self_attn.v_proj"]])"));
    QCOMPARE(config["hidden_size"].get<int>(), 64); // the rest of the config is preserved
    QCOMPARE(fileBytes(dir / "tokenizer.bin"),
             fileBytes(rs::test::stories260K() / "tokenizer.bin"));

    // Bit for bit: the packed codes, zeros and scales are RTN's, recomputed here from W.
    const rs::SafetensorsFile model = rs::SafetensorsFile::open(dir / "model.safetensors");
    const rs::SafetensorsFile source =
        rs::SafetensorsFile::open(rs::test::stories260K() / "model.safetensors");
    for (const std::string& name : {linear(0, "q_proj"), linear(4, "v_proj")}) {
        const rs::QuantGrid grid = rs::quantizeRtn(source.tensor(name + ".weight"), 4, 32, false);
        const at::Tensor qweight = model.tensor(name + ".qweight");
        const at::Tensor qzeros = model.tensor(name + ".qzeros");
        const int64_t dOut = grid.codes.size(0), dIn = grid.codes.size(1);
        QCOMPARE(qweight.sizes().vec(), (std::vector<int64_t>{dIn * 4 / 32, dOut}));
        QCOMPARE(qzeros.sizes().vec(), (std::vector<int64_t>{dIn / 32, dOut * 4 / 32}));
        for (int64_t o = 0; o < dOut; ++o) {
            for (int64_t i = 0; i < dIn; ++i)
                QCOMPARE(referenceCode(qweight, 4, i, o),
                         int64_t(grid.codes[o][i].item<uint8_t>()));
            for (int64_t g = 0; g < dIn / 32; ++g)
                QCOMPARE(referenceCode(qzeros.t().contiguous(), 4, o, g) + 1,
                         int64_t(grid.zeros[o][g].item<int32_t>()));
        }
        QVERIFY(at::equal(model.tensor(name + ".scales"), grid.scales.t().to(at::kHalf)));
        QVERIFY(
            at::equal(model.tensor(name + ".g_idx"), at::arange(dIn, at::kInt).div(32, "floor")));
        QVERIFY(!model.contains(name + ".weight"));
    }
    QVERIFY(model.contains(linear(0, "down_proj") + ".weight"));
    // Non-linear tensors are copied unchanged.
    for (const std::string& name :
         {std::string("model.embed_tokens.weight"), std::string("model.norm.weight"),
          std::string("model.layers.2.input_layernorm.weight")})
        QVERIFY(at::equal(model.tensor(name), source.tensor(name)));

    // The adapter: PEFT key names, shapes and a config whose every scale is 1.
    const json adapter = readJson(dir / "adapter" / "adapter_config.json");
    QCOMPARE(adapter["peft_type"].get<std::string>(), std::string("LORA"));
    QCOMPARE(adapter["task_type"].get<std::string>(), std::string("CAUSAL_LM"));
    QCOMPARE(adapter["r"].get<int64_t>(), kRank);
    QCOMPARE(adapter["lora_alpha"].get<int64_t>(), kRank);
    QVERIFY(adapter["rank_pattern"] == adapter["alpha_pattern"]);
    QCOMPARE(int64_t(adapter["rank_pattern"].size()), kLinears);
    QCOMPARE(int64_t(adapter["target_modules"].size()), kLinears);
    QCOMPARE(adapter["use_rslora"].get<bool>(), false);
    QCOMPARE(adapter["lora_dropout"].get<double>(), 0.0);
    QCOMPARE(adapter["bias"].get<std::string>(), std::string("none"));
    // The original model's name (stories260K's config has no _name_or_path: its directory).
    QCOMPARE(adapter["base_model_name_or_path"].get<std::string>(), std::string("stories260K"));
    const rs::SafetensorsFile lora =
        rs::SafetensorsFile::open(dir / "adapter" / "adapter_model.safetensors");
    QCOMPARE(int64_t(lora.names().size()), 2 * kLinears);
    for (int64_t b = 0; b < 5; ++b)
        for (const std::string& kind : kKinds) {
            const std::string key = "base_model.model." + linear(b, kind);
            const std::vector<int64_t> w = source.info(linear(b, kind) + ".weight").shape;
            QCOMPARE(adapter["rank_pattern"][linear(b, kind)].get<int64_t>(), kRank);
            QCOMPARE(lora.info(key + ".lora_A.weight").shape, (std::vector<int64_t>{kRank, w[1]}));
            QCOMPARE(lora.info(key + ".lora_B.weight").shape, (std::vector<int64_t>{w[0], kRank}));
        }

    // Recorded in the store with the hash of what is on disk; the card names the facts.
    const std::vector<rs::ExportRecord> records = m_store->exports(m_rtn4);
    QVERIFY(!records.empty());
    QCOMPARE(records.back().format, std::string("gptq+peft"));
    QCOMPARE(records.back().path, dir.string());
    QCOMPARE(records.back().contentHash, rs::hashExportDirectory(dir));
    const std::string card = rs::readTextFile(dir / "README.md");
    for (const char* fact : {"rtn:bits=4,group=32", "eora@8", "tinystories protocol",
                             "bits per weight", "model.layers.0.mlp.down_proj"})
        QVERIFY2(card.find(fact) != std::string::npos, fact);
}

void TestExportFormats::mergedRoundTripInEveryDtype() {
    const rs::ExportResult f32 = exportTo(m_rtn4, rs::ExportFormat::Merged, "merged32");
    QVERIFY(f32.reloaded && f32.inMemory);
    QVERIFY(relative(f32.reloaded->perplexity, f32.inMemory->perplexity) < kFloat32Agreement);
    qInfo("merged float32: in memory %.6f, read back %.6f", f32.inMemory->perplexity,
          f32.reloaded->perplexity);
    for (const char* dtype : {"bfloat16", "float16"}) {
        const rs::ExportResult r =
            exportTo(m_rtn4, rs::ExportFormat::Merged, std::string("merged-") + dtype, dtype);
        QVERIFY(r.reloaded);
        QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kHalfPrecisionSanity);
        qInfo("merged %s: in memory %.6f, read back %.6f", dtype, r.inMemory->perplexity,
              r.reloaded->perplexity);
        const rs::SafetensorsFile model = rs::SafetensorsFile::open(r.path / "model.safetensors");
        QCOMPARE(model.info(linear(1, "up_proj") + ".weight").dtype,
                 std::string(dtype) == "float16" ? rs::DType::F16 : rs::DType::BF16);
        QCOMPARE(model.info("model.embed_tokens.weight").dtype, rs::DType::F32); // unchanged
        QCOMPARE(readJson(r.path / "config.json")["torch_dtype"].get<std::string>(),
                 std::string(dtype));
    }
    // A merged export is a plain checkpoint: the ordinary loader opens it.
    const auto session = rs::ModelSession::open(f32.path);
    QCOMPARE(session->summary().config.numLayers, int64_t(5));
}

void TestExportFormats::factorizedRoundTrip() {
    const rs::ExportResult r = exportTo(m_rtn4, rs::ExportFormat::Factorized, "factorized");
    QVERIFY(r.reloaded && r.inMemory);
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
    const json f = readJson(r.path / "config.json")["rankscope_factorization"];
    QCOMPARE(int64_t(f["ranks"].size()), kLinears);
    QCOMPARE(int64_t(f["dense_base"].size()), kLinears);
    const rs::SafetensorsFile model = rs::SafetensorsFile::open(r.path / "model.safetensors");
    const std::string name = linear(3, "down_proj");
    QCOMPARE(f["ranks"][name].get<int64_t>(), kRank);
    QCOMPARE(model.info(name + ".low_rank.0.weight").shape, (std::vector<int64_t>{kRank, 172}));
    QCOMPARE(model.info(name + ".low_rank.1.weight").shape, (std::vector<int64_t>{64, kRank}));
    QCOMPARE(model.info(name + ".weight").shape, (std::vector<int64_t>{64, 172}));
    const rs::LoadedExport loaded = rs::loadExport(r.path);
    QCOMPARE(loaded.summary.lowRankLayers, kLinears);
    QCOMPARE(loaded.summary.factorOnlyLayers, int64_t(0));
}

// At 8 bits the 172-wide MLP layers would fill whole words, but AutoGPTQ and vLLM's 8-bit kernel
// assume 32-wide steps: they stay dense as at 4 bits, and every format still reads back.
void TestExportFormats::eightBitExportKeepsNarrowWidthsDense() {
    const rs::ExportResult gptq = exportTo(m_rtn8, rs::ExportFormat::GptqPeft, "gptq8");
    QCOMPARE(int64_t(gptq.written.denseLayers.size()), int64_t(15));
    for (const auto& [name, reason] : gptq.written.denseLayers)
        QVERIFY2(reason.find("172 is not a multiple of 32") != std::string::npos, name.c_str());
    QCOMPARE(gptq.written.quantizedLayers, int64_t(20));
    const json q = readJson(gptq.path / "config.json")["quantization_config"];
    QCOMPARE(q["bits"].get<int>(), 8);
    QCOMPARE(q["group_size"].get<int>(), -1);
    QCOMPARE(q["dynamic"].size(), size_t(15));
    for (rs::ExportFormat format :
         {rs::ExportFormat::GptqPeft, rs::ExportFormat::Merged, rs::ExportFormat::Factorized}) {
        const rs::ExportResult r =
            format == rs::ExportFormat::GptqPeft
                ? gptq
                : exportTo(m_rtn8, format, std::string("eight-") + rs::exportFormatName(format));
        QVERIFY(r.reloaded && r.inMemory);
        QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
        qInfo("8-bit %s: in memory %.6f, read back %.6f", rs::exportFormatName(format),
              r.inMemory->perplexity, r.reloaded->perplexity);
    }
}

void TestExportFormats::actOrderGptqKeepsItsGroupIndex() {
    // Act-order processes inputs by descending activation energy: g_idx is a permutation of the
    // groups, desc_act is set, and a loader following g_idx gets the model back.
    const int64_t id = record("gptq:bits=4,group=32,act_order=true");
    const rs::ExportResult r = exportTo(id, rs::ExportFormat::GptqPeft, "gptq-act-order");
    QVERIFY(r.reloaded && r.inMemory);
    QVERIFY(relative(r.reloaded->perplexity, r.inMemory->perplexity) < kFloat32Agreement);
    QCOMPARE(readJson(r.path / "config.json")["quantization_config"]["desc_act"].get<bool>(), true);
    const rs::SafetensorsFile model = rs::SafetensorsFile::open(r.path / "model.safetensors");
    int64_t permuted = 0;
    for (const std::string& name : model.names())
        if (name.ends_with(".g_idx")) {
            const at::Tensor gIdx = model.tensor(name).to(at::kLong);
            const int64_t dIn = gIdx.size(0);
            QCOMPARE(gIdx.bincount().min().item<int64_t>(), int64_t(32)); // full groups
            permuted += !at::equal(gIdx, at::arange(dIn, at::kLong).div(32, "floor"));
        }
    QVERIFY(permuted > 0);
}

void TestExportFormats::factorOnlyLayersRoundTrip() {
    // LoRD/Lillama results: a linear replaced by its factor pair alone, written by the same
    // writers; factorized keeps the pair, merged multiplies it out.
    at::manual_seed(13);
    const rs::SourceModel source = rs::readSourceModel(rs::test::stories260K());
    rs::ExportContent content;
    content.source = &source;
    const std::string name = linear(1, "o_proj");
    const rs::LowRankFactors f{at::randn({64, 4}), at::randn({4, 64})};
    content.linears.push_back({name, at::Tensor(), std::nullopt, f});
    for (rs::ExportFormat format : {rs::ExportFormat::Factorized, rs::ExportFormat::Merged}) {
        const fs::path dir = m_root / (std::string("factor-only-") + rs::exportFormatName(format));
        fs::create_directories(dir);
        rs::writeExport(dir, format, content);
        const rs::LoadedExport loaded = rs::loadExport(dir);
        if (format == rs::ExportFormat::Factorized) {
            QVERIFY(
                !rs::SafetensorsFile::open(dir / "model.safetensors").contains(name + ".weight"));
            QVERIFY(readJson(dir / "config.json")["rankscope_factorization"]["dense_base"].empty());
            QVERIFY(at::equal(loaded.checkpoint.read(rs::lowRankTensorName(name, 0)), f.A));
            QVERIFY(at::equal(loaded.checkpoint.read(rs::lowRankTensorName(name, 1)), f.B));
            QVERIFY(!loaded.checkpoint.find(name + ".weight")); // factor-only: no base at all
            QCOMPARE(loaded.summary.factorOnlyLayers, int64_t(1));
        } else {
            QCOMPARE(loaded.summary.lowRankLayers, int64_t(0));
            QVERIFY(at::equal(loaded.checkpoint.read(name + ".weight"), at::matmul(f.B, f.A)));
        }
        // Every other tensor is the source's.
        const std::string other = linear(1, "q_proj") + ".weight";
        QVERIFY(at::equal(loaded.checkpoint.read(other),
                          rs::SafetensorsFile::open(rs::test::stories260K() / "model.safetensors")
                              .tensor(other)));
    }
    // A GPTQ checkpoint needs a base for every linear.
    QVERIFY(rs::test::errorOf([&] {
                fs::create_directories(m_root / "factor-only-gptq");
                rs::writeExport(m_root / "factor-only-gptq", rs::ExportFormat::GptqPeft, content);
            }).find("has no base weight") != std::string::npos);
}

// vLLM fuses q/k/v (and gate/up) into one matmul and refuses a mix of quantized and dense
// shards: one sibling the format cannot hold keeps its siblings dense too. Block 0 then quantizes
// fewer linears than block 1, which Transformers + Optimum would misread: the export says so.
void TestExportFormats::fusedSiblingsStayTogether() {
    const rs::SourceModel source = rs::readSourceModel(rs::test::stories260K());
    const rs::SafetensorsFile weights =
        rs::SafetensorsFile::open(rs::test::stories260K() / "model.safetensors");
    rs::ExportContent content;
    content.source = &source;
    for (int64_t block : {0, 1})
        for (const char* kind : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
            const std::string name = linear(block, kind);
            at::Tensor w = weights.tensor(name + ".weight").to(at::kFloat);
            // All-positive weights give a zero point of 0, which GPTQ v1 cannot store.
            if (block == 0 && std::string(kind) == "k_proj")
                w = w.abs() + 0.01;
            rs::QuantGrid grid = rs::quantizeRtn(w, 4, 32, false);
            content.linears.push_back({name, rs::dequantize(grid), std::move(grid), {}});
        }
    const fs::path dir = m_root / "fused-siblings";
    fs::create_directories(dir);
    const rs::WrittenExport written = rs::writeExport(dir, rs::ExportFormat::GptqPeft, content);

    std::map<std::string, std::string> dense(written.denseLayers.begin(),
                                             written.denseLayers.end());
    QCOMPARE(dense.size(), size_t(3));
    QVERIFY(dense.at(linear(0, "k_proj")).find("zero point 0") != std::string::npos);
    for (const char* sibling : {"q_proj", "v_proj"})
        QVERIFY(dense.at(linear(0, sibling)).find("fused sibling " + linear(0, "k_proj")) !=
                std::string::npos);
    QCOMPARE(written.quantizedLayers, int64_t(5));
    const json q = readJson(dir / "config.json")["quantization_config"];
    QVERIFY(!q.contains("modules_in_block_to_quantize"));
    QCOMPARE(q["dynamic"].size(), size_t(3));
    const auto noted = [&](const std::string& text) {
        return std::any_of(written.runtimeNotes.begin(), written.runtimeNotes.end(),
                           [&](const std::string& n) { return n.find(text) != std::string::npos; });
    };
    QVERIFY(noted("Transformers + Optimum"));
    QVERIFY(noted("Marlin needs sym=true")); // an asymmetric 4-bit grid
    QVERIFY(rs::loadExport(dir).summary.quantizedLayers == 5);
}

QTEST_GUILESS_MAIN(TestExportFormats)
#include "tst_export_formats.moc"
