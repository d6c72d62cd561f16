#include "calib/layerwise.h"
#include "eval/perplexity.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTest>
#include <limits>
#include <map>

namespace {

// Relative Frobenius difference between statistics gathered in different batchings (float32
// activations, float64 sums).
constexpr double kStatsTolerance = 1e-5;

double relativeDiff(const at::Tensor& a, const at::Tensor& b) {
    return (a - b).norm().item<double>() / b.norm().item<double>();
}

std::vector<int32_t> calibTokens(const rs::ModelSession& session) {
    const std::string text = rs::readTextFile(rs::test::dataPath("text/tinystories/calib.txt"));
    return rs::buildTokenStream(text, rs::Protocol::TinyStories, session.tokenizer()).tokens;
}

} // namespace

class TestCalib : public QObject {
    Q_OBJECT
private slots:
    void statsAccumulateExactly();
    void layerwiseEqualsOneFullForward();
    void sequentialSeesModifiedLayers();
    void windowsRespectTheBudget();
    void rejectsOutOfOrderLayers();
    void siteMaskCollectsOnlyThoseSites();
};

void TestCalib::statsAccumulateExactly() {
    at::manual_seed(3);
    const at::Tensor x = at::randn({300, 24});
    rs::InputStats stats;
    stats.accumulate(x.narrow(0, 0, 100));
    stats.accumulate(x.narrow(0, 100, 200));
    const at::Tensor xd = x.to(at::kDouble);
    QCOMPARE(stats.tokens, int64_t(300));
    QVERIFY(relativeDiff(stats.gram, xd.t().mm(xd)) < 1e-12);
    QVERIFY(relativeDiff(stats.meanAbs, xd.abs().mean(0)) < 1e-12);
    QCOMPARE(stats.gram.scalar_type(), at::kDouble);

    // finite(): NaN or Inf anywhere is found; finite entries whose sum overflows are finite.
    QVERIFY(stats.finite());
    rs::InputStats broken = stats;
    broken.gram = stats.gram.clone();
    broken.gram[7][3] = std::numeric_limits<double>::infinity();
    QVERIFY(!broken.finite());
    broken.gram[7][3] = std::numeric_limits<double>::quiet_NaN();
    QVERIFY(!broken.finite());
    broken.gram.fill_(std::numeric_limits<double>::max());
    QVERIFY(broken.finite());
}

void TestCalib::layerwiseEqualsOneFullForward() {
    auto session = rs::test::openDemo();
    rs::LlamaModel& model = session->model();
    const at::Tensor windows = rs::calibrationWindows(calibTokens(*session), 256, 2048, "calib");
    QCOMPARE(windows.size(0), int64_t(8));

    // Reference: every site of every layer from one ordinary forward pass with the hook.
    std::map<std::pair<int64_t, rs::InputSite>, rs::InputStats> reference;
    model.setLinearInputHook([&](int64_t layer, rs::InputSite site, const at::Tensor& x) {
        reference[{layer, site}].accumulate(x);
    });
    model.forward(windows);
    model.setLinearInputHook({});

    rs::LayerwiseCalibrator calibrator(model, windows, 3); // batches of 3 windows: 3 + 3 + 2
    for (int64_t layer = 0; layer < model.numLayers(); ++layer) {
        const rs::LayerInputStats stats = calibrator.collect(layer);
        calibrator.advance(layer);
        for (rs::InputSite site : {rs::InputSite::Attention, rs::InputSite::AttentionOutput,
                                   rs::InputSite::Mlp, rs::InputSite::MlpDown}) {
            const rs::InputStats& got = stats.of(site);
            const rs::InputStats& want = reference[{layer, site}];
            QCOMPARE(got.tokens, int64_t(2048));
            QVERIFY(at::equal(got.gram, got.gram.t())); // exactly symmetric
            QVERIFY2(relativeDiff(got.gram, want.gram) < kStatsTolerance,
                     qPrintable(QString("layer %1 site %2").arg(layer).arg(int(site))));
            QVERIFY(relativeDiff(got.meanAbs, want.meanAbs) < kStatsTolerance);
        }
    }
    QCOMPARE(calibrator.tokens(), int64_t(2048));
}

void TestCalib::sequentialSeesModifiedLayers() {
    auto session = rs::test::openDemo();
    rs::LlamaModel& model = session->model();
    const at::Tensor windows = rs::calibrationWindows(calibTokens(*session), 128, 512, "calib");

    rs::LayerwiseCalibrator parallel(model, windows), sequential(model, windows);
    parallel.collect(0);
    parallel.advance(0);
    sequential.collect(0);
    // Perturb layer 0 (as a compression would), advance through it, then restore it.
    rs::Linear& down = model.layer(0).linear(rs::LinearKind::Down);
    const at::Tensor original = down.weight;
    down.weight = original * 0.5;
    sequential.advance(0);
    down.weight = original;

    const rs::LayerInputStats a = parallel.collect(1), b = sequential.collect(1);
    QVERIFY(relativeDiff(b.of(rs::InputSite::Attention).gram, a.of(rs::InputSite::Attention).gram) >
            1e-3);
}

void TestCalib::windowsRespectTheBudget() {
    const std::vector<int32_t> tokens(1000, 5);
    QCOMPARE(rs::calibrationWindows(tokens, 128, 0, "t").sizes().vec(),
             (std::vector<int64_t>{7, 128}));
    QCOMPARE(rs::calibrationWindows(tokens, 128, 300, "t").sizes().vec(),
             (std::vector<int64_t>{2, 128}));
    try {
        rs::calibrationWindows(tokens, 128, 100, "calib.txt");
        QFAIL("accepted a budget below one window");
    } catch (const rs::Error& e) {
        QVERIFY2(std::string(e.what()).find("calib.txt: too short for one calibration window") !=
                     std::string::npos,
                 e.what());
    }
}

void TestCalib::rejectsOutOfOrderLayers() {
    auto session = rs::test::openDemo();
    const at::Tensor windows = rs::calibrationWindows(calibTokens(*session), 64, 128, "calib");
    rs::LayerwiseCalibrator calibrator(session->model(), windows);
    QVERIFY_THROWS_EXCEPTION(rs::Error, calibrator.collect(1));
    QVERIFY_THROWS_EXCEPTION(rs::Error, calibrator.advance(2));
}

void TestCalib::siteMaskCollectsOnlyThoseSites() {
    auto session = rs::test::openDemo();
    rs::LlamaModel& model = session->model();
    const at::Tensor windows = rs::calibrationWindows(calibTokens(*session), 128, 512, "calib");
    rs::LayerwiseCalibrator all(model, windows), some(model, windows);
    const rs::SiteMask sites =
        rs::siteBit(rs::InputSite::Mlp) | rs::siteBit(rs::InputSite::MlpDown);
    for (int64_t layer = 0; layer < 2; ++layer) {
        const rs::LayerInputStats full = all.collectAndAdvance(layer);
        const rs::LayerInputStats part = some.collectAndAdvance(layer, {}, sites);
        QVERIFY(!part.of(rs::InputSite::Attention).gram.defined());
        QVERIFY(!part.of(rs::InputSite::AttentionOutput).gram.defined());
        for (rs::InputSite site : {rs::InputSite::Mlp, rs::InputSite::MlpDown}) {
            QCOMPARE(part.of(site).tokens, full.of(site).tokens);
            QVERIFY(at::equal(part.of(site).gram, full.of(site).gram));
        }
    }
    // No site at all is a plain pass: the hidden states still advance.
    some.collectAndAdvance(2, {}, 0);
    all.advance(2);
    const at::Tensor want = all.collect(3).of(rs::InputSite::Attention).gram;
    QVERIFY(at::equal(some.collect(3).of(rs::InputSite::Attention).gram, want));
}

QTEST_GUILESS_MAIN(TestCalib)
#include "tst_calib.moc"
