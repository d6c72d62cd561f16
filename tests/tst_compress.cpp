#include "calib/stats.h"
#include "compress/compress.h"
#include "compress/ggml_quants.h"
#include "compress/gptq.h"
#include "compress/prune.h"
#include "compress_reference.h"
#include "eval/perplexity.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTest>
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

using namespace rs::test;

namespace {

// |w - w_c| <= scale / 2 holds exactly on the real-number grid; the float32 scale and the float32
// product (q - zero) * scale each add at most half an ulp of |w_c| ~ |w|.
constexpr double kRoundingUlps = 2.0;
// GPTQ in float32 with lazy block updates against the float64 column-by-column reference.
// The symmetric grid puts -max|w| of a group exactly on a rounding tie (codes 0 and 1 are equally
// near), so float32 noise flips a few codes there, and a flip changes later columns' updates.
constexpr double kGptqCodeAgreement = 0.995;     // fraction of identical codes
constexpr double kGptqObjectiveTolerance = 2e-3; // relative difference of tr(dW C dW^T)
// U from one reversed Cholesky against the inverse-then-Cholesky route, both float64.
constexpr double kInverseFactorTolerance = 1e-9;

using rs::test::errorOf;

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Largest amount by which |w - w_c| exceeds half the quantization step of its group (<= 0 when
// every weight is within half a step), over the entries selected by `where` (all if undefined).
double halfStepExcess(const at::Tensor& w, const rs::CompressedWeight& c,
                      const at::Tensor& where = {}) {
    const at::Tensor step = c.quant->scales.index_select(1, c.quant->groupIndex.to(at::kLong));
    const at::Tensor wd = w.to(at::kDouble);
    const double eps = std::numeric_limits<float>::epsilon() / 2;
    const at::Tensor excess = (wd - c.weight.to(at::kDouble)).abs() - step.to(at::kDouble) / 2 -
                              kRoundingUlps * eps * wd.abs();
    return (where.defined() ? excess.masked_select(where) : excess).max().item<double>();
}

rs::MethodConfig method(const std::string& text) {
    return rs::MethodConfig::parse(text, rs::MethodKind::Compression);
}

at::Tensor randomWeight(int64_t rows, int64_t cols, uint64_t seed) {
    at::manual_seed(seed);
    return at::randn({rows, cols}, at::kFloat) * 0.05;
}

// Calibration statistics of correlated inputs with per-column scales spread over two decades.
rs::InputStats randomStats(int64_t dIn, int64_t tokens, uint64_t seed) {
    at::manual_seed(seed);
    const at::Tensor mix = at::randn({dIn, dIn}, at::kDouble) / std::sqrt(double(dIn));
    const at::Tensor scales = at::pow(10.0, at::rand({dIn}, at::kDouble) * 2.0 - 1.0);
    rs::InputStats stats;
    stats.accumulate((at::randn({tokens, dIn}, at::kDouble) +
                      at::randn({tokens, dIn}, at::kDouble).matmul(mix)) *
                     scales);
    return stats;
}

// The layer objective tr(dW C dW^T) = ||dW X^T||^2 in float64.
double objective(const at::Tensor& w, const at::Tensor& wc, const at::Tensor& gram) {
    const at::Tensor dw = (w.to(at::kDouble) - wc.to(at::kDouble));
    return (dw.matmul(gram) * dw).sum().item<double>();
}

} // namespace

class TestCompress : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void rtnRoundTripsWithinHalfAStep();
    void rtnShorterLastGroup();
    void rtnMatchesFloat64Reference();
    void rtnLargeLayerMatchesFloat64Reference();
    void rtnSymmetricGrid();
    void rtnAllZeroGroupIsExact();
    void noneKeepsTheWeight();
    void inverseFactorMatchesInverseThenCholesky();
    void gptqMatchesColumnByColumnReference();
    void gptqActOrderGroupsFollowProcessingOrder();
    void gptqZeroesDeadInputs();
    void gptqBeatsRtnOnRealStatistics();
    void nmMaskKeepsExactlyNOfM();
    void unstructuredSparsityIsExactPerRow();
    void wandaKeepsHighActivationInputs();
    void pruneThenQuantizeKeepsZeros();
    void errorsNameLayerAndProblem();
    void ggmlQ8BlocksRoundLikeTheReference();
    void ggmlQ4BlocksRoundLikeTheReference();
    void ggmlRowsThatDoNotSplitStayHalf();

private:
    // Real statistics of stories260K's layer 1 over tinystories/calib.txt.
    at::Tensor m_qWeight, m_downWeight;
    rs::InputStats m_attentionStats, m_downStats;
};

void TestCompress::initTestCase() {
    auto session = rs::test::openDemo();
    const std::string text = rs::readTextFile(rs::test::dataPath("text/tinystories/calib.txt"));
    const rs::TokenStream stream =
        rs::buildTokenStream(text, rs::Protocol::TinyStories, session->tokenizer());
    rs::LlamaModel& model = session->model();
    const int64_t layer = 1;
    model.setLinearInputHook([&](int64_t l, rs::InputSite site, const at::Tensor& x) {
        if (l == layer && site == rs::InputSite::Attention)
            m_attentionStats.accumulate(x);
        if (l == layer && site == rs::InputSite::MlpDown)
            m_downStats.accumulate(x);
    });
    const at::Tensor tokens = at::tensor(stream.tokens, at::kInt).to(at::kLong);
    for (int64_t begin = 0; begin < tokens.size(0); begin += 512)
        model.forward(
            tokens.narrow(0, begin, std::min<int64_t>(512, tokens.size(0) - begin)).unsqueeze(0));
    model.setLinearInputHook({});
    m_qWeight = model.layer(layer).linear(rs::LinearKind::Q).weight.clone();
    m_downWeight = model.layer(layer).linear(rs::LinearKind::Down).weight.clone();
    QCOMPARE(m_attentionStats.tokens, int64_t(stream.tokens.size()));
    QCOMPARE(m_downStats.dim(), int64_t(172));
    QCOMPARE(m_downWeight.size(1), int64_t(172));
}

void TestCompress::rtnRoundTripsWithinHalfAStep() {
    const at::Tensor w = randomWeight(24, 172, 1);
    for (int bits : {2, 3, 4, 8})
        for (int64_t group : {-1, 32, 64, 128}) {
            const std::string config =
                "rtn:bits=" + std::to_string(bits) + ",group=" + std::to_string(group);
            const rs::CompressedWeight c = rs::compressWeight(method(config), w, nullptr, "l");
            QVERIFY(c.quant.has_value());
            const rs::QuantGrid direct = rs::quantizeRtn(w, bits, group, false);
            QVERIFY(at::equal(direct.codes, c.quant->codes));
            QVERIFY(at::equal(rs::dequantize(direct), c.weight));
            QCOMPARE(c.quant->codes.scalar_type(), at::kByte);
            QVERIFY(c.quant->codes.max().item<int64_t>() <= (1 << bits) - 1);
            QVERIFY(c.quant->codes.max().item<int64_t>() > 0);
            QVERIFY2(halfStepExcess(w, c) <= 0.0, config.c_str());
            QVERIFY(c.mask.defined() == false);
        }
}

void TestCompress::rtnShorterLastGroup() {
    const at::Tensor w = randomWeight(16, 172, 2);
    const rs::QuantGrid grid = rs::quantizeRtn(w, 4, 32, false);
    QCOMPARE(grid.scales.sizes().vec(), (std::vector<int64_t>{16, 6}));
    QCOMPARE(grid.zeros.sizes().vec(), (std::vector<int64_t>{16, 6}));
    QCOMPARE(grid.groupIndex.size(0), int64_t(172));
    QCOMPARE((grid.groupIndex == 5).sum().item<int64_t>(), int64_t(12));
    QCOMPARE(grid.groupIndex[171].item<int>(), 5);
    QCOMPARE(grid.groupIndex[160].item<int>(), 5);
    QCOMPARE(grid.groupIndex[159].item<int>(), 4);
    // The last group's grid depends on its 12 columns only.
    const rs::QuantGrid tail = rs::quantizeRtn(w.narrow(1, 160, 12), 4, -1, false);
    QVERIFY(at::equal(tail.scales.select(1, 0), grid.scales.select(1, 5)));
    QVERIFY(at::equal(tail.codes, grid.codes.narrow(1, 160, 12)));
    // Per output row: one group.
    const rs::QuantGrid row = rs::quantizeRtn(w, 4, -1, false);
    QCOMPARE(row.scales.sizes().vec(), (std::vector<int64_t>{16, 1}));
    QCOMPARE(row.groupIndex.max().item<int>(), 0);
    QCOMPARE(rs::groupCount(172, 32), int64_t(6));
    QCOMPARE(rs::groupCount(172, -1), int64_t(1));
}

void TestCompress::rtnMatchesFloat64Reference() {
    const at::Tensor w = randomWeight(32, 172, 3);
    for (bool symmetric : {false, true})
        for (int bits : {2, 3, 4, 8})
            for (int64_t group : {-1, 32, 128}) {
                const rs::QuantGrid grid = rs::quantizeRtn(w, bits, group, symmetric);
                const at::Tensor reference = referenceRtnCodes(w, bits, group, symmetric);
                QVERIFY(at::equal(grid.codes.to(at::kDouble), reference));
            }
}

void TestCompress::rtnLargeLayerMatchesFloat64Reference() {
    // Over 2^22 entries the quantizer works through row slices (2048 rows of 2048 columns here,
    // then the remaining 52): the codes and grids must be those of the whole matrix.
    const at::Tensor w = randomWeight(2100, 2048, 13);
    for (bool symmetric : {false, true}) {
        const rs::QuantGrid grid = rs::quantizeRtn(w, 4, 128, symmetric);
        QVERIFY(at::equal(grid.codes.to(at::kDouble), referenceRtnCodes(w, 4, 128, symmetric)));
        const rs::QuantGrid tail = rs::quantizeRtn(w.narrow(0, 2048, 52), 4, 128, symmetric);
        QVERIFY(at::equal(tail.scales, grid.scales.narrow(0, 2048, 52)));
        QVERIFY(at::equal(tail.zeros, grid.zeros.narrow(0, 2048, 52)));
    }
}

void TestCompress::rtnSymmetricGrid() {
    const at::Tensor w = randomWeight(20, 96, 4);
    for (int bits : {2, 3, 4, 8}) {
        const rs::CompressedWeight c = rs::compressWeight(
            method("rtn:bits=" + std::to_string(bits) + ",group=32,sym=true"), w, nullptr, "l");
        QVERIFY(c.quant->symmetric);
        QVERIFY((c.quant->zeros == (1 << (bits - 1))).all().item<bool>());
        // scale = 2 max|w| / (2^b - 1) per group.
        const at::Tensor amax = w.view({20, 3, 32}).abs().amax(2);
        QVERIFY(at::allclose(c.quant->scales, 2 * amax / ((1 << bits) - 1), 1e-6, 0.0));
        const double excess = halfStepExcess(w, c);
        QVERIFY2(excess <= 0.0, qPrintable(QString("bits %1: %2").arg(bits).arg(excess)));
        QVERIFY(at::equal(rs::dequantize(*c.quant), c.weight));
    }
}

void TestCompress::rtnAllZeroGroupIsExact() {
    at::Tensor w = randomWeight(8, 64, 5);
    w.narrow(1, 32, 32).zero_();
    w[3].zero_();
    for (bool symmetric : {false, true}) {
        const rs::QuantGrid grid = rs::quantizeRtn(w, 3, 32, symmetric);
        QVERIFY(at::isfinite(grid.scales).all().item<bool>());
        QVERIFY((grid.scales > 0).all().item<bool>());
        const at::Tensor back = rs::dequantize(grid);
        QVERIFY(at::equal(back.narrow(1, 32, 32), at::zeros({8, 32})));
        QVERIFY(at::equal(back[3], at::zeros({64})));
    }
}

void TestCompress::noneKeepsTheWeight() {
    const at::Tensor w = randomWeight(8, 16, 6);
    const rs::CompressedWeight c = rs::compressWeight(method("none"), w, nullptr, "l");
    QVERIFY(at::equal(c.weight, w));
    QVERIFY(!c.quant.has_value());
    QVERIFY(!c.mask.defined());
    const rs::CompressedWeight half =
        rs::compressWeight(method("none"), w.to(at::kBFloat16), nullptr, "l");
    QCOMPARE(half.weight.scalar_type(), at::kFloat);
}

void TestCompress::inverseFactorMatchesInverseThenCholesky() {
    const rs::InputStats stats = randomStats(48, 400, 7);
    at::Tensor h = stats.gram * (2.0 / 400);
    h.diagonal().add_(0.01 * h.diagonal().mean());
    const at::Tensor u = rs::gptqInverseFactor(h, "l", 0.01);
    const at::Tensor reference = at::linalg_cholesky(at::linalg_inv(h)).t();
    QVERIFY(at::equal(u, u.triu()));
    const double diff = ((u - reference).abs().max() / reference.abs().max()).item<double>();
    QVERIFY2(diff < kInverseFactorTolerance, qPrintable(QString::number(diff)));
}

void TestCompress::gptqMatchesColumnByColumnReference() {
    const int64_t rows = 40, cols = 100;
    const at::Tensor w = randomWeight(rows, cols, 8);
    rs::InputStats stats = randomStats(cols, 600, 9);
    // A dead input: a channel that never fires.
    stats.gram[17].zero_();
    stats.gram.select(1, 17).zero_();
    struct Case {
        int bits;
        int64_t group, block;
        bool sym, actOrder;
    };
    // Block 24 with group 32 starts groups inside a block that reach past its end.
    const std::vector<Case> cases = {{4, 32, 128, false, false}, {3, 32, 24, false, true},
                                     {2, -1, 32, false, false},  {3, 64, 32, true, true},
                                     {4, 32, 24, true, false},   {8, 128, 64, false, true}};
    for (const Case& k : cases) {
        rs::GptqOptions o;
        o.bits = k.bits;
        o.groupSize = k.group;
        o.blockSize = k.block;
        o.symmetric = k.sym;
        o.actOrder = k.actOrder;
        const rs::QuantGrid grid = rs::gptqQuantize(w, stats, o, "l");
        const ReferenceGptq reference = referenceGptq(w, stats, o);
        const at::Tensor wc = rs::dequantize(grid);
        const double agreement =
            (grid.codes.to(at::kDouble) == reference.codes).to(at::kDouble).mean().item<double>();
        const double ours = objective(w, wc, stats.gram);
        const double theirs = objective(w, reference.weight, stats.gram);
        const QString what =
            QString("bits %1 group %2 block %3 sym %4 act %5: codes %6, E %7 vs %8")
                .arg(k.bits)
                .arg(k.group)
                .arg(k.block)
                .arg(k.sym)
                .arg(k.actOrder)
                .arg(agreement)
                .arg(ours)
                .arg(theirs);
        QVERIFY2(agreement >= kGptqCodeAgreement, qPrintable(what));
        QVERIFY2(std::abs(ours - theirs) <= kGptqObjectiveTolerance * theirs, qPrintable(what));
        qInfo("%s", qPrintable(what));
    }
}

void TestCompress::gptqActOrderGroupsFollowProcessingOrder() {
    const int64_t cols = 172;
    const at::Tensor w = randomWeight(12, cols, 10);
    const rs::InputStats stats = randomStats(cols, 500, 11);
    const rs::CompressedWeight c =
        rs::compressWeight(method("gptq:bits=3,group=32,act_order=true"), w, &stats, "l");
    const rs::QuantGrid& grid = *c.quant;
    QVERIFY(at::equal(rs::dequantize(grid), c.weight));
    QCOMPARE(grid.scales.size(1), int64_t(6));
    const std::vector<int64_t> order = processingOrder(stats.gram.diagonal().clone(), true);
    for (int64_t p = 0; p < cols; ++p)
        QCOMPARE(int64_t(grid.groupIndex[order[p]].item<int>()), p / 32);
    // The input with the largest H_ii is in group 0 even though it need not be among the first.
    QCOMPARE(grid.groupIndex[order[0]].item<int>(), 0);
    QCOMPARE((grid.groupIndex == 5).sum().item<int64_t>(), int64_t(12));
}

void TestCompress::gptqZeroesDeadInputs() {
    const at::Tensor w = randomWeight(10, 64, 12);
    rs::InputStats stats = randomStats(64, 300, 13);
    for (int64_t dead : {0, 40}) {
        stats.gram[dead].zero_();
        stats.gram.select(1, dead).zero_();
    }
    for (const char* config : {"gptq:bits=4,group=32", "gptq:bits=4,group=32,act_order=true"}) {
        const rs::CompressedWeight c = rs::compressWeight(method(config), w, &stats, "l");
        QVERIFY(at::equal(c.weight.select(1, 0), at::zeros({10})));
        QVERIFY(at::equal(c.weight.select(1, 40), at::zeros({10})));
        QVERIFY(c.weight.select(1, 1).abs().sum().item<double>() > 0);
    }
}

void TestCompress::gptqBeatsRtnOnRealStatistics() {
    struct Layer {
        const char* name;
        const at::Tensor* weight;
        const rs::InputStats* stats;
    };
    for (const Layer& layer : {Layer{"layers.1.q_proj", &m_qWeight, &m_attentionStats},
                               Layer{"layers.1.down_proj", &m_downWeight, &m_downStats}})
        for (int bits : {3, 2})
            for (const char* act : {"false", "true"}) {
                const std::string grid = "bits=" + std::to_string(bits) + ",group=32";
                const rs::CompressedWeight rtn =
                    rs::compressWeight(method("rtn:" + grid), *layer.weight, nullptr, layer.name);
                const rs::CompressedWeight gptq =
                    rs::compressWeight(method("gptq:" + grid + ",act_order=" + act), *layer.weight,
                                       layer.stats, layer.name);
                const double eRtn = objective(*layer.weight, rtn.weight, layer.stats->gram);
                const double eGptq = objective(*layer.weight, gptq.weight, layer.stats->gram);
                const QString what = QString("%1 %2 act_order=%3: GPTQ %4 vs RTN %5")
                                         .arg(layer.name, grid.c_str(), act)
                                         .arg(eGptq)
                                         .arg(eRtn);
                qInfo("%s", qPrintable(what));
                QVERIFY2(eGptq < eRtn, qPrintable(what));
            }
}

void TestCompress::nmMaskKeepsExactlyNOfM() {
    struct Case {
        const char* pattern;
        int64_t n, m, dIn;
    };
    for (const Case& k : {Case{"2:4", 2, 4, 172}, Case{"4:8", 4, 8, 176}}) {
        const at::Tensor w = randomWeight(16, k.dIn, 14);
        const rs::InputStats stats = randomStats(k.dIn, 300, 15);
        for (const char* kind : {"magnitude", "wanda"}) {
            const rs::CompressedWeight c =
                rs::compressWeight(method(std::string(kind) + ":nm=" + k.pattern), w, &stats, "l");
            const at::Tensor perGroup = c.mask.view({16, -1, k.m}).sum(2);
            QVERIFY((perGroup == k.n).all().item<bool>());
            QCOMPARE(c.sparsity, 1.0 - double(k.n) / double(k.m));
            QVERIFY(at::equal(c.weight, w.masked_fill(c.mask.logical_not(), 0.0)));
            QVERIFY(!c.quant.has_value());
        }
    }
}

void TestCompress::unstructuredSparsityIsExactPerRow() {
    const at::Tensor w = randomWeight(12, 172, 18);
    for (double sparsity : {0.5, 0.3, 0.29, 0.0}) {
        const rs::CompressedWeight c = rs::compressWeight(
            method("magnitude:sparsity=" + std::to_string(sparsity)), w, nullptr, "l");
        // floor(sparsity * d_in) per row: 86, 51, 49, 0.
        const int64_t pruned = int64_t(std::floor(sparsity * 172 + 1e-9));
        QCOMPARE(rs::prunedPerRow(172, sparsity), pruned);
        QVERIFY((c.mask.logical_not().sum(1) == pruned).all().item<bool>());
        QCOMPARE(c.sparsity, double(pruned) / 172);
        if (pruned == 0)
            continue;
        // Every kept weight is at least as large as every pruned one of its row.
        const at::Tensor a = w.abs();
        const at::Tensor keptMin = a.masked_fill(c.mask.logical_not(), INFINITY).amin(1);
        const at::Tensor prunedMax = a.masked_fill(c.mask, -INFINITY).amax(1);
        QVERIFY((keptMin >= prunedMax).all().item<bool>());
    }
    QCOMPARE(rs::prunedPerRow(100, 0.29), int64_t(29));
}

void TestCompress::wandaKeepsHighActivationInputs() {
    const int64_t rows = 32, cols = 128, tokens = 512;
    const at::Tensor w = randomWeight(rows, cols, 19);
    // Independent inputs; every fourth one has ten times the amplitude of the others.
    at::manual_seed(20);
    const at::Tensor loud = at::arange(0, cols, 4, at::kLong);
    at::Tensor x = at::randn({tokens, cols}, at::kDouble);
    x.index_copy_(1, loud, x.index_select(1, loud) * 10.0);
    rs::InputStats stats;
    stats.accumulate(x);
    for (const char* pattern : {"nm=none,sparsity=0.5", "nm=2:4"}) {
        const rs::CompressedWeight magnitude =
            rs::compressWeight(method(std::string("magnitude:") + pattern), w, &stats, "l");
        const rs::CompressedWeight wanda =
            rs::compressWeight(method(std::string("wanda:") + pattern), w, &stats, "l");
        QVERIFY(!at::equal(magnitude.mask, wanda.mask));
        QCOMPARE(wanda.sparsity, magnitude.sparsity);
        const auto keptFraction = [&](const at::Tensor& mask) {
            return mask.index_select(1, loud).to(at::kDouble).mean().item<double>();
        };
        const double keptLoud = keptFraction(wanda.mask);
        const double keptLoudMagnitude = keptFraction(magnitude.mask);
        QVERIFY2(keptLoud > 0.9 && keptLoudMagnitude < 0.7,
                 qPrintable(QString("%1 %2").arg(keptLoud).arg(keptLoudMagnitude)));
        QVERIFY(objective(w, wanda.weight, stats.gram) <
                objective(w, magnitude.weight, stats.gram));
    }
}

void TestCompress::pruneThenQuantizeKeepsZeros() {
    const at::Tensor w = randomWeight(16, 172, 21);
    const rs::InputStats stats = randomStats(172, 300, 22);
    for (const char* config :
         {"magnitude:sparsity=0.5,bits=4,group=32", "wanda:nm=2:4,bits=3,group=32",
          "wanda:sparsity=0.7,bits=2,sym=true", "magnitude:nm=2:4,bits=8,group=-1"}) {
        const rs::CompressedWeight c = rs::compressWeight(method(config), w, &stats, "l");
        QVERIFY(c.quant.has_value());
        QVERIFY(c.mask.defined());
        const at::Tensor removed = c.mask.logical_not();
        QVERIFY(
            at::equal(c.weight.masked_select(removed), at::zeros({removed.sum().item<int64_t>()})));
        QVERIFY(at::equal(rs::dequantize(*c.quant), c.weight));
        QVERIFY2(halfStepExcess(w, c, c.mask) <= 0.0, config);
    }
}

void TestCompress::errorsNameLayerAndProblem() {
    const std::string layer = "model.layers.3.mlp.down_proj";
    const at::Tensor w = randomWeight(8, 172, 23);
    const rs::InputStats stats = randomStats(172, 200, 24);
    const auto expect = [&](const std::string& config, const at::Tensor& weight,
                            const rs::InputStats* s, const std::string& problem) {
        const std::string message =
            errorOf([&] { rs::compressWeight(method(config), weight, s, layer); });
        QVERIFY2(contains(message, layer + ": ") && contains(message, problem),
                 qPrintable(QString::fromStdString(config + " -> '" + message + "'")));
    };
    at::Tensor nanWeight = w.clone();
    nanWeight[2][5] = NAN;
    at::Tensor infWeight = w.clone();
    infWeight[0][0] = -INFINITY;
    for (const rs::MethodSpec* spec : rs::methodsOfKind(rs::MethodKind::Compression)) {
        expect(spec->id, nanWeight, &stats, "weight contains NaN");
        expect(spec->id, infWeight, &stats, "weight contains Inf");
    }
    rs::InputStats infStats = stats;
    infStats.gram = stats.gram.clone();
    infStats.gram[4][4] = INFINITY;
    rs::InputStats nanStats = stats;
    nanStats.gram = stats.gram.clone();
    nanStats.gram[1][3] = NAN;
    for (const rs::MethodSpec* spec : rs::methodsOfKind(rs::MethodKind::Compression)) {
        if (!spec->traits.readsStatistics)
            continue;
        const std::string& config = spec->id;
        expect(config, w, &infStats, "calibration statistics contain Inf");
        expect(config, w, &nanStats, "calibration statistics contain NaN");
        expect(config, w, nullptr, config + " needs calibration statistics");
        expect(config, w, nullptr, "none given");
        const rs::InputStats small = randomStats(64, 100, 25);
        expect(config, w, &small,
               "the calibration statistics have d_in 64 but the weight has "
               "d_in 172");
    }
    expect("magnitude:nm=4:8", w, nullptr,
           "N:M 4:8 needs d_in to be a multiple of 8, but d_in "
           "is 172");
    expect("wanda:nm=2:4", randomWeight(8, 170, 26), nullptr, "needs calibration statistics");
    expect("magnitude:nm=2:4", randomWeight(8, 170, 26), nullptr, "d_in is 170");
    // An indefinite "Hessian" (corrupt statistics) cannot be factored: the error says so.
    rs::InputStats indefinite = stats;
    indefinite.gram = at::eye(172, at::kDouble);
    indefinite.gram.narrow(0, 0, 2).narrow(1, 0, 2).fill_(1.0);
    indefinite.gram[0][1] = 3.0;
    indefinite.gram[1][0] = 3.0;
    expect("gptq:damp=0.01", w, &indefinite, "increase damp");
    expect("gptq", w.view({-1}), &stats, "must be a non-empty matrix");
}

namespace {

// One block of 32 inputs (the rest of the row zero-filled to a second block), quantized and
// dequantized: what llama.cpp computes with.
at::Tensor ggmlRoundTrip(const std::vector<float>& block, rs::GgmlBlockType type,
                         rs::QuantGrid* gridOut = nullptr) {
    std::vector<float> row(64, 0.0f);
    std::copy(block.begin(), block.end(), row.begin());
    const at::Tensor w = at::tensor(row).reshape({1, 64});
    rs::QuantGrid grid = rs::quantizeGgml(w, type, "layer");
    const at::Tensor out = rs::dequantize(grid).flatten();
    if (gridOut)
        *gridOut = std::move(grid);
    return out;
}

float halfOf(float x) {
    return static_cast<float>(c10::Half(x));
}

} // namespace

// Q8_0: d = max|x| / 127 stored as float16, q = roundf(x / d): halves round away from zero (not
// to even), and the codes come from the float32 d, the value from the float16 one.
void TestCompress::ggmlQ8BlocksRoundLikeTheReference() {
    std::vector<float> block(32, 0.0f);
    block[0] = 127.0f; // d = 1 exactly
    block[1] = 62.5f;  // roundf: 63 (round-half-even would give 62)
    block[2] = -62.5f; // -63
    block[3] = 0.5f;   // 1
    block[4] = 0.49f;  // 0
    rs::QuantGrid grid;
    const at::Tensor x = ggmlRoundTrip(block, rs::GgmlBlockType::Q8_0, &grid);
    QCOMPARE(x[0].item<float>(), 127.0f);
    QCOMPARE(x[1].item<float>(), 63.0f);
    QCOMPARE(x[2].item<float>(), -63.0f);
    QCOMPARE(x[3].item<float>(), 1.0f);
    QCOMPARE(x[4].item<float>(), 0.0f);
    QCOMPARE(grid.zeros[0][0].item<int>(), 128);
    // An all-zero block: scale 0, every code the zero point, the value 0.
    QCOMPARE(grid.scales[0][1].item<float>(), 0.0f);
    QVERIFY(at::equal(grid.codes[0].narrow(0, 32, 32), at::full({32}, 128, at::kByte)));

    // max|x| = 1: d = 1/127 is not a float16 value; the code of 1 is 127 (from the float32 d)
    // and its value 127 * half(1/127).
    block.assign(32, 0.0f);
    block[7] = -1.0f;
    const at::Tensor y = ggmlRoundTrip(block, rs::GgmlBlockType::Q8_0, &grid);
    QCOMPARE(grid.scales[0][0].item<float>(), halfOf(1.0f / 127.0f));
    QVERIFY(halfOf(1.0f / 127.0f) != 1.0f / 127.0f);
    QCOMPARE(y[7].item<float>(), -127.0f * halfOf(1.0f / 127.0f));
}

// Q4_0: d = m / -8 with m the value of largest magnitude, sign kept (the first one on a tie);
// q = min(15, trunc(x / d + 8.5)), so m itself maps to code 0 and the other end is clamped.
void TestCompress::ggmlQ4BlocksRoundLikeTheReference() {
    std::vector<float> block(32, 0.0f);
    block[0] = 8.0f;  // m = 8: d = -1
    block[1] = -8.0f; // 8 + 8.5 -> 16, clamped to 15: (15 - 8) * -1 = -7
    block[2] = 0.5f;  // -0.5 + 8.5 = 8 -> 0
    block[3] = -0.5f; // 0.5 + 8.5 = 9 -> -1
    block[4] = 1.4f;  // 7.1 -> 7 -> 1
    block[5] = 2.6f;  // 5.9 -> 5 -> 3 (truncation, not rounding)
    rs::QuantGrid grid;
    const at::Tensor x = ggmlRoundTrip(block, rs::GgmlBlockType::Q4_0, &grid);
    QCOMPARE(grid.scales[0][0].item<float>(), -1.0f);
    QCOMPARE(grid.zeros[0][0].item<int>(), 8);
    const float expected[] = {8.0f, -7.0f, 0.0f, -1.0f, 1.0f, 3.0f};
    for (int j = 0; j < 6; ++j)
        QCOMPARE(x[j].item<float>(), expected[j]);
    // On a tie of magnitudes the first value decides the sign of d.
    block.assign(32, 0.0f);
    block[0] = -3.0f;
    block[1] = 3.0f; // d = 0.375: 3 / 0.375 + 8.5 = 16.5 -> 15 -> 7 * 0.375
    const at::Tensor y = ggmlRoundTrip(block, rs::GgmlBlockType::Q4_0, &grid);
    QCOMPARE(y[0].item<float>(), -3.0f);
    QCOMPARE(y[1].item<float>(), 2.625f);
}

// llama-quantize keeps a tensor whose rows do not split into blocks of 32 in float16; the
// compression methods do the same, and the block quantizer itself refuses such a weight.
void TestCompress::ggmlRowsThatDoNotSplitStayHalf() {
    at::manual_seed(14);
    const at::Tensor w = at::randn({64, 172});
    for (const char* id : {"q8_0", "q4_0"}) {
        const rs::CompressedWeight c = rs::compressWeight(method(id), w, nullptr, "layer.down");
        QVERIFY(!c.quant);
        QVERIFY(at::equal(c.weight, w.to(at::kHalf).to(at::kFloat)));
    }
    QVERIFY(rs::test::errorOf([&] {
                rs::quantizeGgml(w, rs::GgmlBlockType::Q4_0, "layer.down");
            }) == "layer.down: Q4_0 blocks need d_in to be a multiple of 32, got 172");
}

QTEST_GUILESS_MAIN(TestCompress)
#include "tst_compress.moc"
