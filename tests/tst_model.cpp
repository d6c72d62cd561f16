#include "io/checkpoint.h"
#include "model/llama.h"
#include "model/rope.h"
#include "model/synthetic.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/argument_error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTest>
#include <cmath>
#include <filesystem>
#include <map>

namespace {

// Logits of the float32 model against a float64 reference written independently below.
constexpr double kFloat32LogitTolerance = 2e-4;
// Incremental decoding with the KV cache against one full forward pass (same dtype).
constexpr double kCacheLogitTolerance = 1e-4;
// bfloat16 weights and activations: 8 bits of mantissa, accumulated through 5 layers.
constexpr double kBf16LogitTolerance = 0.35;

// A direct float64 transcription of the LLaMA forward pass (HF LlamaForCausalLM semantics),
// without caches, grouping tricks or in-place operations, used as the numerical reference.
at::Tensor referenceLogits(const rs::Checkpoint& ckpt, const at::Tensor& tokens) {
    const rs::ModelConfig& c = ckpt.config;
    const auto w = [&](const std::string& name) { return ckpt.require(name).to(at::kDouble); };
    // x W^T (+ b when the checkpoint has a bias for this linear).
    const auto lin = [&](const at::Tensor& x, const std::string& name) {
        at::Tensor y = at::matmul(x, w(name + ".weight").t());
        if (const at::Tensor* b = ckpt.find(name + ".bias"))
            y = y + b->to(at::kDouble);
        return y;
    };
    const auto norm = [&](const at::Tensor& x, const at::Tensor& weight) {
        return weight * x / at::sqrt(x.pow(2).mean({-1}, true) + c.rmsNormEps);
    };
    const int64_t t = tokens.size(0), d = c.headDim;
    at::Tensor h = w("model.embed_tokens.weight").index_select(0, tokens);
    const at::Tensor pos = at::arange(t, at::kDouble);
    const at::Tensor inv =
        at::pow(c.ropeTheta, -at::arange(0, d, 2, at::kDouble) / static_cast<double>(d));
    const at::Tensor ang = at::cat({at::outer(pos, inv), at::outer(pos, inv)}, 1);
    const auto rope = [&](const at::Tensor& x) { // x: [heads, t, d]
        const at::Tensor rot = at::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
        return x * at::cos(ang) + rot * at::sin(ang);
    };
    const at::Tensor causal = at::ones({t, t}, at::kBool).triu(1);
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const at::Tensor x = norm(h, w(p + "input_layernorm.weight"));
        at::Tensor q = lin(x, p + "self_attn.q_proj");
        at::Tensor k = lin(x, p + "self_attn.k_proj");
        at::Tensor v = lin(x, p + "self_attn.v_proj");
        q = rope(q.view({t, c.numHeads, d}).transpose(0, 1));
        k = rope(k.view({t, c.numKvHeads, d}).transpose(0, 1));
        v = v.view({t, c.numKvHeads, d}).transpose(0, 1);
        const int64_t group = c.numHeads / c.numKvHeads;
        k = k.repeat_interleave(group, 0);
        v = v.repeat_interleave(group, 0);
        at::Tensor s = at::matmul(q, k.transpose(1, 2)) / std::sqrt(static_cast<double>(d));
        s = s.masked_fill(causal, -INFINITY);
        const at::Tensor a = at::matmul(at::softmax(s, -1), v).transpose(0, 1).reshape({t, -1});
        h = h + lin(a, p + "self_attn.o_proj");
        const at::Tensor y = norm(h, w(p + "post_attention_layernorm.weight"));
        const at::Tensor g = lin(y, p + "mlp.gate_proj");
        const at::Tensor u = lin(y, p + "mlp.up_proj");
        h = h + lin(at::silu(g) * u, p + "mlp.down_proj");
    }
    h = norm(h, w("model.norm.weight"));
    return at::matmul(h,
                      w(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight").t());
}

// The 256-token greedy sample of a session, as `rankscope-cli generate` prints it.
std::string greedySample(const rs::ModelSession& session) {
    rs::GenerateRequest request;
    request.maxTokens = 256;
    return rs::generateText(session, request) + "\n";
}

std::string publishedSample() {
    return rs::readTextFile(rs::test::stories260K() / "reference" / "greedy-256.txt");
}

at::Tensor randomTokens(int64_t batch, int64_t time, int64_t vocab, uint64_t seed) {
    at::manual_seed(seed);
    return at::randint(3, vocab, {batch, time}, at::kLong);
}

} // namespace

class TestModel : public QObject {
    Q_OBJECT
private slots:
    void forwardMatchesFloat64Reference();
    void qwen2WithBiasesAndUntiedHeadMatchesReference();
    void kvCacheMatchesFullForward();
    void batchRowsAreIndependent();
    void greedyReproducesPublishedSample();
    void llama2cCheckpointReproducesPublishedSample();
    void hookSeesEveryLinearInput();
    void bfloat16ForwardIsClose();
    void llama3RopeScalingKeepsHighAndDividesLowFrequencies();
    void rejectsTokensOutsideVocabulary();
};

void TestModel::forwardMatchesFloat64Reference() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    const rs::LlamaModel model(ckpt);
    // 300 positions: several causal query blocks, the last one partial.
    const at::Tensor tokens = randomTokens(1, 300, ckpt.config.vocabSize, 11);
    const at::Tensor logits = model.forward(tokens)[0].to(at::kDouble);
    const at::Tensor reference = referenceLogits(ckpt, tokens[0]);
    const double maxDiff = (logits - reference).abs().max().item<double>();
    QVERIFY2(maxDiff < kFloat32LogitTolerance, qPrintable(QString::number(maxDiff)));
    QVERIFY(reference.abs().max().item<double>() > 1.0); // not a degenerate comparison
}

void TestModel::qwen2WithBiasesAndUntiedHeadMatchesReference() {
    // A randomly initialised Qwen2-style model: q/k/v biases, 4 query heads per KV head, separate
    // output head, another head_dim and rope_theta than stories260K.
    rs::ModelConfig config;
    config.modelType = "qwen2";
    config.hiddenSize = 96;
    config.intermediateSize = 160;
    config.numLayers = 2;
    config.numHeads = 8;
    config.numKvHeads = 2;
    config.headDim = 12;
    config.vocabSize = 300;
    config.maxPositions = 128;
    config.ropeTheta = 1e6;
    config.attentionBias = true;
    const auto dir = std::filesystem::temp_directory_path() / "rankscope_tst_model_qwen2";
    rs::writeRandomLlama(dir, config, 7);
    const rs::Checkpoint ckpt = rs::loadCheckpoint(dir);
    std::filesystem::remove_all(dir);
    QVERIFY(ckpt.find("model.layers.1.self_attn.k_proj.bias"));
    QVERIFY(ckpt.find("lm_head.weight"));

    const rs::LlamaModel model(ckpt);
    const at::Tensor tokens = randomTokens(1, 50, config.vocabSize, 21);
    const at::Tensor logits = model.forward(tokens)[0].to(at::kDouble);
    const double maxDiff = (logits - referenceLogits(ckpt, tokens[0])).abs().max().item<double>();
    QVERIFY2(maxDiff < kFloat32LogitTolerance, qPrintable(QString::number(maxDiff)));
}

void TestModel::kvCacheMatchesFullForward() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    const rs::LlamaModel model(ckpt);
    const at::Tensor tokens = randomTokens(1, 200, ckpt.config.vocabSize, 12);
    const at::Tensor full = model.forward(tokens);

    rs::KvCache cache = model.makeCache(1, 256);
    std::vector<at::Tensor> pieces;
    pieces.push_back(model.forward(tokens.narrow(1, 0, 17), &cache));   // a prompt
    pieces.push_back(model.forward(tokens.narrow(1, 17, 150), &cache)); // a chunk after it
    for (int64_t i = 167; i < 200; ++i)
        pieces.push_back(model.forward(tokens.narrow(1, i, 1), &cache));
    QCOMPARE(cache.length, int64_t(200));
    const double maxDiff = (at::cat(pieces, 1) - full).abs().max().item<double>();
    QVERIFY2(maxDiff < kCacheLogitTolerance, qPrintable(QString::number(maxDiff)));
}

void TestModel::batchRowsAreIndependent() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    const rs::LlamaModel model(ckpt);
    const at::Tensor tokens = randomTokens(3, 33, ckpt.config.vocabSize, 13);
    const at::Tensor batched = model.forward(tokens);
    for (int64_t b = 0; b < 3; ++b) {
        const at::Tensor single = model.forward(tokens.narrow(0, b, 1));
        QVERIFY((batched.narrow(0, b, 1) - single).abs().max().item<double>() <
                kCacheLogitTolerance);
    }
}

void TestModel::greedyReproducesPublishedSample() {
    const auto session = rs::test::openDemo();
    QCOMPARE(QString::fromStdString(greedySample(*session)),
             QString::fromStdString(publishedSample()));
    // A prompt that is not UTF-8 is a mistake in the call, named before any token is produced.
    rs::GenerateRequest request;
    request.prompt = "a\xFF b";
    QVERIFY_THROWS_EXCEPTION(rs::ArgumentError, rs::generateText(*session, request));
    try {
        rs::generateText(*session, request);
    } catch (const rs::ArgumentError& e) {
        QCOMPARE(QString(e.what()),
                 QString("prompt: not valid UTF-8 (first bad byte at offset 1)"));
    }
}

void TestModel::llama2cCheckpointReproducesPublishedSample() {
    rs::OpenOptions options;
    options.tokenizer = rs::test::dataPath("llama2c/tok512.bin");
    const auto session =
        rs::ModelSession::open(rs::test::dataPath("llama2c/stories260K.bin"), options);
    QCOMPARE(QString::fromStdString(greedySample(*session)),
             QString::fromStdString(publishedSample()));
}

void TestModel::hookSeesEveryLinearInput() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    rs::LlamaModel model(ckpt);
    std::map<std::pair<int64_t, rs::InputSite>, std::vector<int64_t>> seen;
    model.setLinearInputHook([&](int64_t layer, rs::InputSite site, const at::Tensor& x) {
        seen[{layer, site}] = x.sizes().vec();
    });
    model.forward(randomTokens(2, 10, ckpt.config.vocabSize, 14));
    QCOMPARE(seen.size(), size_t(5 * 4)); // four distinct linear inputs per block
    for (int64_t layer = 0; layer < 5; ++layer) {
        QCOMPARE((seen[{layer, rs::InputSite::Attention}]), (std::vector<int64_t>{20, 64}));
        QCOMPARE((seen[{layer, rs::InputSite::AttentionOutput}]), (std::vector<int64_t>{20, 64}));
        QCOMPARE((seen[{layer, rs::InputSite::Mlp}]), (std::vector<int64_t>{20, 64}));
        QCOMPARE((seen[{layer, rs::InputSite::MlpDown}]), (std::vector<int64_t>{20, 172}));
    }
    // Removing the hook stops the observation.
    seen.clear();
    model.setLinearInputHook({});
    model.forward(randomTokens(1, 4, ckpt.config.vocabSize, 15));
    QVERIFY(seen.empty());
}

void TestModel::bfloat16ForwardIsClose() {
    const rs::Checkpoint f32 = rs::loadCheckpoint(rs::test::stories260K());
    const rs::Checkpoint bf16 = rs::loadCheckpoint(rs::test::stories260K(), "bfloat16");
    rs::ModelOptions options;
    options.dtype = "bfloat16";
    const rs::LlamaModel reference(f32);
    const rs::LlamaModel model(bf16, options);
    QCOMPARE(model.computeDtype(), std::string("bfloat16"));
    const at::Tensor tokens = randomTokens(1, 48, f32.config.vocabSize, 16);
    const at::Tensor a = reference.forward(tokens), b = model.forward(tokens);
    QCOMPARE(b.scalar_type(), at::kFloat);
    const double maxDiff = (a - b).abs().max().item<double>();
    QVERIFY2(maxDiff < kBf16LogitTolerance, qPrintable(QString::number(maxDiff)));
    // Same top-1 prediction almost everywhere.
    const double agree = (a.argmax(-1) == b.argmax(-1)).to(at::kDouble).mean().item<double>();
    QVERIFY2(agree > 0.9, qPrintable(QString::number(agree)));
}

void TestModel::llama3RopeScalingKeepsHighAndDividesLowFrequencies() {
    rs::ModelConfig config;
    config.headDim = 128;
    config.ropeTheta = 500000.0;
    const std::vector<double> plain = rs::ropeInverseFrequencies(config);
    config.ropeScaling = rs::RopeScaling{"llama3", 8.0, 1.0, 4.0, 8192};
    const std::vector<double> scaled = rs::ropeInverseFrequencies(config);
    QCOMPARE(scaled.size(), size_t(64));
    int kept = 0, divided = 0, blended = 0;
    for (size_t i = 0; i < plain.size(); ++i) {
        const double wavelen = 2.0 * M_PI / plain[i];
        if (wavelen < 8192.0 / 4.0) {
            QCOMPARE(scaled[i], plain[i]);
            ++kept;
        } else if (wavelen > 8192.0) {
            QVERIFY(std::abs(scaled[i] - plain[i] / 8.0) < 1e-15);
            ++divided;
        } else {
            QVERIFY(scaled[i] < plain[i] && scaled[i] > plain[i] / 8.0);
            ++blended;
        }
    }
    QVERIFY(kept > 0 && divided > 0 && blended > 0);
}

void TestModel::rejectsTokensOutsideVocabulary() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    const rs::LlamaModel model(ckpt);
    const at::Tensor outsideVocabulary = at::full({1, 3}, 512, at::kLong);
    const at::Tensor pastContext = at::zeros({1, 513}, at::kLong);
    QVERIFY_THROWS_EXCEPTION(rs::Error, model.forward(outsideVocabulary));
    QVERIFY_THROWS_EXCEPTION(rs::Error, model.forward(pastContext));
}

QTEST_GUILESS_MAIN(TestModel)
#include "tst_model.moc"
