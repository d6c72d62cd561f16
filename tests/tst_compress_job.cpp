// The compression pipeline end to end on stories260K: calibration, compression, compensation at
// several ranks from one decomposition, per-layer errors, perplexity, restoring the model.
#include "model/llama.h"
#include "pipeline/compress_job.h"
#include "pipeline/compress_progress.h"
#include "pipeline/linear_exchange.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTest>

namespace {

// The per-layer error of EoRA factors recomputed by the job vs the curve from the analysis.
constexpr double kCurveAgreement = 1e-6;
// 8-bit factors stay close to float32 factors (relative to the uncompensated error).
constexpr double kEightBitFactorSlack = 0.02;

rs::CompressRequest baseRequest(const std::string& method) {
    rs::CompressRequest r;
    r.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    r.inputs.calibTokens = 4096;
    r.compression = rs::MethodConfig::parse(method, rs::MethodKind::Compression);
    for (const char* comp : {"none", "svd", "eora"})
        r.compensations.push_back(rs::MethodConfig::parse(comp, rs::MethodKind::Compensation));
    r.ranks = {4, 8};
    return r;
}

size_t variantIndex(const rs::CompressResult& r, const std::string& label) {
    for (size_t i = 0; i < r.variants.size(); ++i)
        if (r.variants[i].label() == label)
            return i;
    qFatal("no variant %s", label.c_str());
    return 0;
}

} // namespace

class TestCompressJob : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void eoraBeatsSvdBeatsNonePerLayerAndInPerplexity();
    void errorsMatchTheCurves();
    void quantizedFactorsStayClose();
    void sequentialModeRuns();
    void layerSelectionAndBadRequests();
    void modelIsRestoredAfterCancellation();
    void progressStepsCoverBlocksAndHead();
    void blockLinearsAreSharedByCost();

private:
    std::shared_ptr<rs::ModelSession> m_session;
    at::Tensor m_probe;
    at::Tensor m_probeLogits;
};

void TestCompressJob::initTestCase() {
    m_session = rs::test::openDemo();
    at::manual_seed(5);
    m_probe = at::randint(3, 512, {1, 64}, at::kLong);
    m_probeLogits = m_session->model().forward(m_probe);
}

void TestCompressJob::eoraBeatsSvdBeatsNonePerLayerAndInPerplexity() {
    rs::CompressRequest request = baseRequest("rtn:bits=2,group=32");
    request.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    request.inputs.eval.maxWindows = 12;
    request.inputs.evaluateBaseline = true;
    const rs::CompressResult r = rs::runCompression(*m_session, request);

    QCOMPARE(r.variants.size(), size_t(5)); // none, svd@4, svd@8, eora@4, eora@8
    QCOMPARE(r.layers.size(), size_t(35));
    QCOMPARE(r.calibrationTokens, int64_t(4096));
    QVERIFY(r.heldoutTokens > 0);
    for (const rs::LayerReport& layer : r.layers)
        for (int64_t rank : {4, 8}) {
            const size_t svd = variantIndex(r, "svd@" + std::to_string(rank));
            const size_t eora = variantIndex(r, "eora@" + std::to_string(rank));
            // A theorem on the calibration set: EoRA is the optimum of this very error.
            QVERIFY2(layer.errorAfter[eora] <= layer.errorAfter[svd] * (1 + 1e-9),
                     layer.name.c_str());
            QVERIFY(layer.errorAfter[svd] < layer.relativeErrorBefore());
            QCOMPARE(layer.ranks[eora], rank);
        }
    const double none = r.variants[variantIndex(r, "none")].perplexity->perplexity;
    QVERIFY(r.baseline && r.baseline->perplexity < none);
    for (int64_t rank : {4, 8}) {
        const double svd =
            r.variants[variantIndex(r, "svd@" + std::to_string(rank))].perplexity->perplexity;
        const double eora =
            r.variants[variantIndex(r, "eora@" + std::to_string(rank))].perplexity->perplexity;
        QVERIFY2(
            eora < svd && svd < none,
            qPrintable(
                QString("rank %1: eora %2 svd %3 none %4").arg(rank).arg(eora).arg(svd).arg(none)));
    }
    // r (d_out + d_in) per layer: q 64+64, k 32+64, v 32+64, o 64+64, gate/up/down 172+64.
    const int64_t perBlock = 128 + 96 + 96 + 128 + 3 * 236;
    QCOMPARE(r.variants[variantIndex(r, "eora@8")].adapterParameters, 8 * 5 * perBlock);
    QCOMPARE(r.variants[variantIndex(r, "none")].adapterParameters, int64_t(0));
}

void TestCompressJob::errorsMatchTheCurves() {
    const rs::CompressResult r = rs::runCompression(*m_session, baseRequest("rtn:bits=3,group=32"));
    for (const rs::LayerReport& layer : r.layers) {
        QVERIFY(layer.analysis.has_value());
        const rs::ErrorCurves& curves = layer.analysis->curves;
        QCOMPARE(curves.eora.size(), size_t(std::min(layer.outFeatures, layer.inFeatures) + 1));
        for (int64_t rank : {4, 8}) {
            const size_t eora = variantIndex(r, "eora@" + std::to_string(rank));
            const size_t svd = variantIndex(r, "svd@" + std::to_string(rank));
            const double curveEora = curves.eora[size_t(rank)] / curves.outputEnergy;
            const double curveSvd = curves.svd[size_t(rank)] / curves.outputEnergy;
            QVERIFY2(std::abs(curveEora - layer.errorAfter[eora]) <=
                         kCurveAgreement * layer.relativeErrorBefore(),
                     layer.name.c_str());
            QVERIFY2(std::abs(curveSvd - layer.errorAfter[svd]) <=
                         kCurveAgreement * layer.relativeErrorBefore(),
                     layer.name.c_str());
        }
    }
}

void TestCompressJob::quantizedFactorsStayClose() {
    rs::CompressRequest request = baseRequest("rtn:bits=3,group=32");
    request.compensations = {
        rs::MethodConfig::parse("eora", rs::MethodKind::Compensation),
        rs::MethodConfig::parse("eora:factor_bits=8", rs::MethodKind::Compensation)};
    request.ranks = {8};
    request.inputs.analyze = false;
    const rs::CompressResult r = rs::runCompression(*m_session, request);
    const size_t f32 = variantIndex(r, "eora@8"), q8 = variantIndex(r, "eora/q8@8");
    for (const rs::LayerReport& layer : r.layers) {
        QVERIFY(!layer.analysis);
        QVERIFY(layer.errorAfter[q8] >= layer.errorAfter[f32] * (1 - 1e-9));
        QVERIFY(layer.errorAfter[q8] <=
                layer.errorAfter[f32] + kEightBitFactorSlack * layer.relativeErrorBefore());
    }
}

void TestCompressJob::sequentialModeRuns() {
    rs::CompressRequest request = baseRequest("rtn:bits=3,group=32");
    request.mode = rs::CalibrationMode::Sequential;
    request.compensations = {rs::MethodConfig::parse("eora", rs::MethodKind::Compensation)};
    request.ranks = {8};
    const rs::CompressResult sequential = rs::runCompression(*m_session, request);
    request.mode = rs::CalibrationMode::Parallel;
    const rs::CompressResult parallel = rs::runCompression(*m_session, request);
    // Layer 0 sees the same inputs either way; later layers see compressed predecessors.
    QCOMPARE(sequential.layers[0].errorEnergy, parallel.layers[0].errorEnergy);
    QVERIFY(sequential.layers.back().outputEnergy != parallel.layers.back().outputEnergy);
}

void TestCompressJob::layerSelectionAndBadRequests() {
    rs::CompressRequest request = baseRequest("rtn:bits=4,group=32");
    request.inputs.layers.include = {"mlp"};
    request.inputs.layers.exclude = {"layers\\.4\\."};
    request.inputs.analyze = false;
    const rs::CompressResult r = rs::runCompression(*m_session, request);
    QCOMPARE(r.layers.size(), size_t(4 * 3));
    for (const rs::LayerReport& layer : r.layers)
        QVERIFY(layer.name.find("mlp") != std::string::npos && layer.block < 4);

    const auto expectError = [&](rs::CompressRequest bad, const char* text) {
        try {
            rs::runCompression(*m_session, bad);
            QFAIL(text);
        } catch (const rs::Error& e) {
            QVERIFY2(std::string(e.what()).find(text) != std::string::npos, e.what());
        }
    };
    rs::CompressRequest tooLarge = request;
    tooLarge.ranks = {65}; // stories260K's linears have min(d_out, d_in) = 64
    expectError(tooLarge, "model.layers.0.mlp.gate_proj");
    rs::CompressRequest none = request;
    none.inputs.layers.include = {"lm_head"};
    expectError(none, "no decoder linear layer matches");
    rs::CompressRequest missing = request;
    missing.inputs.calibText = "/nonexistent/calib.txt";
    expectError(missing, "/nonexistent/calib.txt");
    rs::CompressRequest badRegex = request;
    badRegex.inputs.layers.include = {"(unclosed"};
    expectError(badRegex, "invalid regular expression");
}

void TestCompressJob::modelIsRestoredAfterCancellation() {
    rs::CompressRequest request = baseRequest("gptq:bits=3,group=32");
    request.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    rs::JobContext job;
    std::vector<rs::ProgressEvent> events;
    job.progress = [&](const rs::ProgressEvent& e) {
        events.push_back(e);
        if (e.stage == "compress" && e.detail == "block 3/5")
            job.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::runCompression(*m_session, request, job));
    // One stage over the whole block loop and the output head: per block, its linears and one
    // evaluation pass per variant (none, svd@4, svd@8, eora@4, eora@8), then the head's passes.
    const int64_t steps = 5 * (1 + 5) + 5;
    int64_t last = 0;
    std::vector<std::string> details;
    for (const rs::ProgressEvent& e : events) {
        if (e.stage != "compress")
            continue;
        QCOMPARE(e.total, steps);
        QVERIFY2(e.done >= last, e.detail.c_str()); // never backwards
        last = e.done;
        details.push_back(e.detail);
    }
    QCOMPARE(last, 2 * (1 + 5)); // cancelled as the third block began
    // The progress named each variant and its windows as they passed a block.
    const auto detailStarting = [&](const std::string& start) {
        const auto it = std::find_if(details.begin(), details.end(),
                                     [&](const std::string& d) { return d.rfind(start, 0) == 0; });
        return it == details.end() ? std::string() : *it;
    };
    for (const std::string& label : {std::string("none"), std::string("eora@8")}) {
        const std::string prefix = "block 2/5: evaluate " + label + ", window ";
        const std::string first = detailStarting(prefix + "0/");
        QVERIFY2(!first.empty(), label.c_str());
        const std::string windows = first.substr(first.rfind('/') + 1);
        QVERIFY(std::stoi(windows) > 1);
        QVERIFY2(!detailStarting(prefix + windows + "/" + windows).empty(), label.c_str());
    }
    const at::Tensor logits = m_session->model().forward(m_probe);
    QCOMPARE((logits - m_probeLogits).abs().max().item<double>(), 0.0);
    for (int64_t layer = 0; layer < 5; ++layer)
        QVERIFY(!m_session->model().layer(layer).linear(rs::LinearKind::Q).loraA.defined());
}

void TestCompressJob::progressStepsCoverBlocksAndHead() {
    std::vector<rs::ProgressEvent> events;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) { events.push_back(e); };
    // Two blocks of three steps (linears, original, eora@8), then two head passes: 8 steps.
    const rs::CompressProgress progress(job, 2, {"original", "eora@8"});
    QCOMPARE(progress.total(), int64_t(8));
    progress.compressing(1);
    progress.evaluating(0, 1, 5, 10);
    progress.evaluating(2, 0, 0, 10);
    // A pass reports its windows over all blocks and the head (here 10 per block): block 1's
    // fourth window is its 14th of 30.
    const rs::JobContext pass = progress.passContext(1, 1, {});
    pass.report("evaluate", 14, 30);
    progress.finished();
    QCOMPARE(events.size(), size_t(5));
    const auto is = [&](size_t i, int64_t done, const std::string& detail) {
        return events[i].stage == "compress" && events[i].done == done && events[i].total == 8 &&
               events[i].detail == detail;
    };
    // Blocks are counted from 1 for the user: block index 1 is "block 2/2".
    QVERIFY(is(0, 3, "block 2/2"));
    QVERIFY(is(1, 2, "block 1/2: evaluate eora@8, window 5/10"));
    QVERIFY(is(2, 6, "output head: evaluate original, window 0/10"));
    QVERIFY(is(3, 5, "block 2/2: evaluate eora@8, window 4/10"));
    QVERIFY(is(4, 8, ""));
    // Without a progress callback the pass context reports nothing.
    QVERIFY(!rs::CompressProgress(rs::JobContext{}, 2, {"x"}).passContext(0, 0, {}).progress);
}

QTEST_GUILESS_MAIN(TestCompressJob)
void TestCompressJob::blockLinearsAreSharedByCost() {
    // A Llama-3-8B block: down_proj (d_in 14336) outweighs the six others together, so with two
    // ranks it has one to itself; with one rank everything is rank 0's.
    std::vector<rs::SelectedLinear> block{
        {0, rs::LinearKind::Q, "q", 4096, 4096},        {0, rs::LinearKind::K, "k", 1024, 4096},
        {0, rs::LinearKind::V, "v", 1024, 4096},        {0, rs::LinearKind::O, "o", 4096, 4096},
        {0, rs::LinearKind::Gate, "gate", 14336, 4096}, {0, rs::LinearKind::Up, "up", 14336, 4096},
        {0, rs::LinearKind::Down, "down", 4096, 14336}};
    std::vector<const rs::SelectedLinear*> linears;
    for (const auto& s : block)
        linears.push_back(&s);
    QCOMPARE(rs::linearOwners(linears, 1), std::vector<int>(7, 0));
    QCOMPARE(rs::linearOwners(linears, 2), std::vector<int>({1, 1, 1, 1, 1, 1, 0}));
    // Three ranks: down_proj alone, gate and up split, the attention linears fill in.
    const std::vector<int> three = rs::linearOwners(linears, 3);
    QCOMPARE(three[6], 0);
    QVERIFY(three[4] != three[5] && three[4] != 0 && three[5] != 0);
    QCOMPARE(rs::linearOwners(linears, 3), three); // the same on every rank
}

#include "tst_compress_job.moc"
