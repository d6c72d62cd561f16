// Every registered method, of every kind, run through the dispatch the jobs use on a real layer of
// stories260K: a method added to the registry without its implementation, or with traits that
// do not describe what its implementation does, fails here. The rows come from the registry.
#include "calib/layerwise.h"
#include "calibration_inputs.h"
#include "compensate/compensation.h"
#include "compress/compress.h"
#include "methods/registry.h"
#include "pipeline/compress_job.h"
#include "pipeline/lowrank_job.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTest>
#include <cmath>

namespace {

// The job's relative error after compensation times tr(W C W^T) against the stored curve at the
// same rank, as a fraction of the error before (float32 factors, float64 curves).
constexpr double kCurveAgreement = 1e-4;
// Relative distance that 8-bit factors stay within of the float32 ones (one scale per row).
constexpr double kEightBitFactors = 2e-2;
constexpr int64_t kRank = 8;
const char* const kBlockPattern = "layers\\.1\\.";

QByteArray rowName(const rs::MethodSpec* method) {
    return QByteArray::fromStdString(method->id);
}

void addRows(rs::MethodKind kind) {
    QTest::addColumn<QString>("id");
    for (const rs::MethodSpec* method : rs::methodsOfKind(kind))
        QTest::newRow(rowName(method).constData()) << QString::fromStdString(method->id);
}

bool finite(const at::Tensor& t) {
    return at::isfinite(t).all().item<bool>();
}

double relativeDistance(const at::Tensor& a, const at::Tensor& b) {
    return ((a.to(at::kDouble) - b.to(at::kDouble)).norm() / b.to(at::kDouble).norm())
        .item<double>();
}

rs::JobInputs blockInputs() {
    rs::JobInputs inputs;
    inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    inputs.calibTokens = 4096;
    inputs.calibSeqLen = 256;
    inputs.layers.include = {kBlockPattern};
    inputs.analyze = true;
    return inputs;
}

const std::vector<double>& curveOf(const rs::ErrorCurves& curves, rs::ErrorCurve curve) {
    return curve == rs::ErrorCurve::Svd ? curves.svd : curves.eora;
}

} // namespace

class TestMethodDispatch : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void compressionRuns_data() { addRows(rs::MethodKind::Compression); }
    void compressionRuns();
    void compensationRuns_data() { addRows(rs::MethodKind::Compensation); }
    void compensationRuns();
    void compensationRunsInTheJob_data() { addRows(rs::MethodKind::Compensation); }
    void compensationRunsInTheJob();
    void lowRankRunsInTheJob_data() { addRows(rs::MethodKind::LowRank); }
    void lowRankRunsInTheJob();

private:
    std::shared_ptr<rs::ModelSession> m_session;
    // stories260K's block 1 q_proj and the real statistics of its inputs.
    at::Tensor m_weight;
    rs::InputStats m_stats;
    std::string m_name;
    // One compression job with every compensation of the registry as a variant.
    rs::CompressResult m_compensated;
};

void TestMethodDispatch::initTestCase() {
    m_session = rs::test::openDemo();
    c10::InferenceMode inference;
    rs::LlamaModel& model = m_session->model();
    const rs::TokenStream stream =
        rs::buildTokenStream(rs::readTextFile(rs::test::dataPath("text/tinystories/calib.txt")),
                             rs::Protocol::TinyStories, m_session->tokenizer());
    const at::Tensor windows = rs::calibrationWindows(stream.tokens, 256, 4096, "calib.txt");
    rs::LayerwiseCalibrator calibrator(model, windows);
    calibrator.collect(0);
    calibrator.advance(0);
    const rs::LayerInputStats stats = calibrator.collect(1);
    m_stats = stats.forLinear(rs::LinearKind::Q);
    m_weight = model.layer(1).linear(rs::LinearKind::Q).weight.to(at::kFloat);
    m_name = rs::linearName(1, rs::LinearKind::Q);

    rs::CompressRequest request;
    request.inputs = blockInputs();
    request.compression =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    request.ranks = {kRank};
    request.heldoutTokens = 0;
    for (const rs::MethodSpec* method : rs::methodsOfKind(rs::MethodKind::Compensation))
        request.compensations.push_back(
            rs::MethodConfig::defaults(method->id, rs::MethodKind::Compensation));
    m_compensated = rs::runCompression(*m_session, request);
    QCOMPARE(m_compensated.layers.size(), size_t(7));
}

// W_c of the right shape and close to W; a quantizer's grid dequantizes to it; a method whose
// traits say it ignores the statistics gives the same W_c without them, the others refuse.
void TestMethodDispatch::compressionRuns() {
    QFETCH(QString, id);
    c10::InferenceMode inference;
    const rs::MethodConfig method =
        rs::MethodConfig::defaults(id.toStdString(), rs::MethodKind::Compression);
    const rs::MethodTraits& traits = method.spec().traits;
    const rs::CompressedWeight cw = rs::compressWeight(method, m_weight, &m_stats, m_name);
    QCOMPARE(cw.weight.sizes(), m_weight.sizes());
    QVERIFY(finite(cw.weight));
    QVERIFY2(relativeDistance(cw.weight, m_weight) < 1.0, id.toUtf8().constData());
    QCOMPARE(cw.quant.has_value(), traits.quantizes);
    if (cw.quant) {
        QVERIFY(at::equal(rs::dequantize(*cw.quant), cw.weight));
        if (method.spec().param("bits"))
            QCOMPARE(int64_t(cw.quant->bits), method.integer("bits"));
    }
    const std::string blind =
        rs::test::errorOf([&] { rs::compressWeight(method, m_weight, nullptr, m_name); });
    if (traits.readsStatistics) {
        QVERIFY2(blind.rfind(m_name + ": ", 0) == 0, blind.c_str());
    } else {
        QVERIFY2(blind.empty(), blind.c_str());
        QVERIFY(at::equal(rs::compressWeight(method, m_weight, nullptr, m_name).weight, cw.weight));
    }
}

// A method that fits factors builds a basis whose error falls with the rank and, where its
// traits name a curve, whose own curve is that analysis curve; factor_bits quantizes the
// factors it deploys. A method without a weighting refuses to build one.
void TestMethodDispatch::compensationRuns() {
    QFETCH(QString, id);
    c10::InferenceMode inference;
    const rs::MethodConfig method =
        rs::MethodConfig::defaults(id.toStdString(), rs::MethodKind::Compensation);
    const rs::MethodTraits& traits = method.spec().traits;
    const at::Tensor dW = rs::test::rtnError(m_weight);
    const auto build = [&] {
        return rs::buildCompensationBasis(method, dW, m_stats, kRank, m_name);
    };
    if (!method.spec().fitsFactors()) {
        QVERIFY(rs::test::errorOf([&] { build(); }).find("has no low-rank basis") !=
                std::string::npos);
        return;
    }
    const std::unique_ptr<rs::CompensationBasis> basis = build();
    const rs::LowRankFactors f = basis->factorsAt(kRank);
    QVERIFY(finite(f.A) && finite(f.B));
    const double before = rs::compensatedError(dW, {}, m_stats.gram);
    const double after = rs::compensatedError(dW, f, m_stats.gram);
    QVERIFY2(after < before, id.toUtf8().constData());
    if (traits.curve != rs::ErrorCurve::None) {
        const rs::LayerAnalysis analysis = rs::analyzeLayer(m_weight, dW, m_stats, m_name);
        const std::vector<double>& expected = curveOf(analysis.curves, traits.curve);
        QVERIFY2(std::abs(after - expected[kRank]) <= kCurveAgreement * before,
                 id.toUtf8().constData());
    }
    rs::MethodConfig eightBits = method;
    eightBits.set("factor_bits", "8");
    const rs::LowRankFactors q = rs::deployedFactors(eightBits, *basis, kRank);
    QVERIFY(!at::equal(q.A, f.A));
    QVERIFY(relativeDistance(q.A, f.A) < kEightBitFactors);
    QVERIFY(relativeDistance(q.B, f.B) < kEightBitFactors);
    QVERIFY(at::equal(rs::deployedFactors(method, *basis, kRank).A, f.A));
}

// The compression job runs every compensation as a variant: "none" at rank 0 with the error it
// had before, the others at the rank asked for, on their curve where they have one.
void TestMethodDispatch::compensationRunsInTheJob() {
    QFETCH(QString, id);
    size_t v = 0;
    while (v < m_compensated.variants.size() &&
           m_compensated.variants[v].compensation.id() != id.toStdString())
        ++v;
    QVERIFY2(v < m_compensated.variants.size(), "the job ran no variant of this method");
    const rs::MethodSpec& spec = m_compensated.variants[v].compensation.spec();
    for (const rs::LayerReport& layer : m_compensated.layers) {
        QVERIFY(std::isfinite(layer.errorAfter[v]));
        if (!spec.fitsFactors()) {
            QCOMPARE(layer.ranks[v], int64_t(0));
            QCOMPARE(layer.errorAfter[v], layer.relativeErrorBefore());
            continue;
        }
        QCOMPARE(layer.ranks[v], kRank);
        QVERIFY2(layer.errorAfter[v] < layer.relativeErrorBefore(), layer.name.c_str());
        if (spec.traits.curve != rs::ErrorCurve::None) {
            QVERIFY(layer.analysis);
            const double predicted = curveOf(layer.analysis->curves, spec.traits.curve)[kRank];
            QVERIFY2(std::abs(layer.errorAfter[v] * layer.outputEnergy - predicted) <=
                         kCurveAgreement * layer.errorEnergy,
                     layer.name.c_str());
        }
    }
}

// Each low-rank method factors block 1 at rank 8 through the low-rank job. A method whose
// traits name a curve ends on it; one that distills records its training per block.
void TestMethodDispatch::lowRankRunsInTheJob() {
    QFETCH(QString, id);
    rs::LowRankRequest request;
    request.inputs = blockInputs();
    request.method = rs::MethodConfig::defaults(id.toStdString(), rs::MethodKind::LowRank);
    if (request.method.spec().param("steps"))
        request.method.set("steps", "4");
    request.uniformRank = kRank;
    const rs::LowRankResult result = rs::runLowRank(*m_session, request);
    QCOMPARE(result.variants.size(), size_t(1));
    QCOMPARE(result.layers.size(), size_t(7));
    const rs::MethodTraits& traits = request.method.spec().traits;
    QCOMPARE(result.variants[0].distillation.empty(), !traits.distills);
    for (const rs::LowRankLayerReport& layer : result.layers) {
        QCOMPARE(layer.ranks[0], kRank);
        QVERIFY2(std::isfinite(layer.errorAfter[0]) && layer.errorAfter[0] < 1.0,
                 layer.name.c_str());
        if (traits.curve == rs::ErrorCurve::None)
            continue;
        QVERIFY(layer.analysis);
        const double predicted = curveOf(layer.analysis->curves, traits.curve)[kRank];
        QVERIFY2(std::abs(layer.errorAfter[0] * layer.outputEnergy - predicted) <=
                     kCurveAgreement * layer.outputEnergy,
                 layer.name.c_str());
    }
}

QTEST_GUILESS_MAIN(TestMethodDispatch)
#include "tst_method_dispatch.moc"
