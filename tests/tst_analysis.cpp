#include "calib/stats.h"
#include "calibration_inputs.h"
#include "compensate/compensation.h"
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "methods/registry.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <QTest>
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <functional>
#include <limits>
#include <map>

// analyzeLayer against a float64 reference computed the textbook way with LibTorch (SVD of dW,
// eigendecomposition of C, SVD of dW S), on every linear layer of stories260K with statistics from
// calib.txt, on random layers with a rank-deficient C, and at a size that takes the mixed-precision
// stages (min(d_out, d_in) >= 1024).

namespace {

using rs::test::calibrationInputs;
using rs::test::rtnError;
using rs::test::statsOf;

// Float64 path (min(d_out, d_in) < 1024): curves relative to E(0) = tr(dW C dW^T); the reference
// differs by rounding only (measured ~1e-15).
constexpr double kCurveTolerance = 1e-9;
// Singular values from the eigenvalues of a float64 Gram matrix, relative to the largest: they
// resolve down to about sqrt(eps_float64) of it (measured up to 5e-9 for near-zero ones).
constexpr double kSpectrumTolerance = 1e-6;
// Eigenvalues of C, relative to the largest (two float64 eigensolvers, measured ~1e-15).
constexpr double kGramTolerance = 1e-12;
// tr(W C W^T) from float32 products, relative (measured up to 5e-8).
constexpr double kOutputEnergyTolerance = 1e-6;
// Mixed precision: curves within 1e-6 of E(0), the requirement (measured 1e-8 to 6e-8 here and on
// 4096-wide layers); eigenvalues of C from a float32 band reduction, relative to the largest
// (measured ~8e-8); singular values of W and dW S from float32 Gram matrices, relative to the
// largest: near-zero ones are resolved to about sqrt(eps_float32) (measured 1e-6 here, up to 6e-5
// on 4096 x 4096 layers).
constexpr double kMixedCurveTolerance = 1e-6;
constexpr double kMixedGramTolerance = 1e-6;
constexpr double kMixedSpectrumTolerance = 1e-3;
// The analysis with a reused basis repeats the same computation.
constexpr double kReuseTolerance = 1e-12;
// E_eora(r) <= E_svd(r) (a theorem), up to rounding, relative to E(0).
constexpr double kTheoremSlack = 1e-12;

// out[r] = sum_{i >= r} max(v_i, 0) for descending v, r = 0 .. n.
at::Tensor tails(const at::Tensor& values) {
    const at::Tensor v = values.clamp_min(0.0);
    return at::cat({v.flip(0).cumsum(0).flip(0), at::zeros({1}, v.options())});
}

// docs/design.md §2 in float64: the SVD dW = U S V^T gives E_svd(r) = sum_{i>r} S_i^2 v_i^T C v_i;
// with C = Q L Q^T and S = Q L^(1/2) the EoRA optimum is E_eora(r) = sum_{i>r} s_i(dW S)^2.
struct Reference {
    at::Tensor svdCurve, eoraCurve;
    at::Tensor gram, weight, error, scaled; // spectra, descending
    double errorEnergy = 0.0, outputEnergy = 0.0;
    int64_t discarded = 0;

    Reference(const at::Tensor& w, const at::Tensor& dW, const at::Tensor& c64) {
        const at::Tensor e = dW.to(at::kDouble), wd = w.to(at::kDouble), c = c64.to(at::kDouble);
        auto [u, s, vh] = at::linalg_svd(e, /*full_matrices=*/false);
        svdCurve = tails(s.square() * (at::mm(vh, c) * vh).sum(1));
        auto [l, q] = at::linalg_eigh(c);
        const at::Tensor root = q * l.clamp_min(0.0).sqrt().unsqueeze(0);
        scaled = at::linalg_svdvals(at::mm(e, root));
        eoraCurve = tails(scaled.square());
        gram = l.flip(0);
        weight = at::linalg_svdvals(wd);
        error = s;
        errorEnergy = (at::mm(e, c) * e).sum().item<double>();
        outputEnergy = (at::mm(wd, c) * wd).sum().item<double>();
        const double tol = gram[0].item<double>() * std::max<double>(1.0, double(c.size(0))) *
                           static_cast<double>(FLT_EPSILON);
        discarded = (l <= tol).sum().item<int64_t>();
    }
};

struct Tolerances {
    double curve, gram, spectrum, theorem;
};
constexpr Tolerances kFloat64{kCurveTolerance, kGramTolerance, kSpectrumTolerance, kTheoremSlack};
constexpr Tolerances kMixed{kMixedCurveTolerance, kMixedGramTolerance, kMixedSpectrumTolerance,
                            kMixedCurveTolerance};

// max_i |a_i - b_i| / scale.
double maxDiff(const std::vector<double>& a, const at::Tensor& b, double scale) {
    if (int64_t(a.size()) != b.numel())
        return INFINITY;
    return ((at::tensor(a, at::kDouble) - b).abs().max() / scale).item<double>();
}

void checkAgainstReference(const rs::LayerAnalysis& a, const Reference& ref, const Tolerances& tol,
                           const std::string& layer) {
    const auto where = [&](const char* what, double value) {
        return QString("%1 %2: %3").arg(QString::fromStdString(layer), what).arg(value).toUtf8();
    };
    const double energy = ref.errorEnergy;
    const double svd = maxDiff(a.curves.svd, ref.svdCurve, energy);
    const double eora = maxDiff(a.curves.eora, ref.eoraCurve, energy);
    QVERIFY2(svd < tol.curve, where("svd curve", svd).constData());
    QVERIFY2(eora < tol.curve, where("eora curve", eora).constData());
    QVERIFY2(std::abs(a.curves.errorEnergy - energy) < tol.curve * energy,
             where("error energy", a.curves.errorEnergy).constData());
    QVERIFY2(std::abs(a.curves.outputEnergy - ref.outputEnergy) <
                 kOutputEnergyTolerance * ref.outputEnergy,
             where("output energy", a.curves.outputEnergy).constData());
    for (size_t r = 0; r < a.curves.svd.size(); ++r)
        QVERIFY2(a.curves.eora[r] <= a.curves.svd[r] + tol.theorem * energy,
                 where("E_eora > E_svd at rank", double(r)).constData());

    const double top = ref.gram[0].item<double>();
    const double gram = maxDiff(a.spectra.gramEigenvalues, ref.gram, top);
    QVERIFY2(gram < tol.gram, where("eigenvalues of C", gram).constData());
    QCOMPARE(a.spectra.discardedModes, ref.discarded);
    const double weight =
        maxDiff(a.spectra.weightSingular, ref.weight, ref.weight[0].item<double>());
    QVERIFY2(weight < tol.spectrum, where("singular values of W", weight).constData());
    // The singular values of dW always come from the float64 decomposition behind the SVD curve.
    const double error = maxDiff(a.spectra.errorSingular, ref.error, ref.error[0].item<double>());
    QVERIFY2(error < kSpectrumTolerance, where("singular values of dW", error).constData());
    const double scaled =
        maxDiff(a.spectra.scaledErrorSingular, ref.scaled, ref.scaled[0].item<double>());
    QVERIFY2(scaled < tol.spectrum, where("singular values of dW S", scaled).constData());
}

void expectSame(const std::vector<double>& a, const std::vector<double>& b, double scale,
                const char* what) {
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
        QVERIFY2(std::abs(a[i] - b[i]) <= kReuseTolerance * scale,
                 qPrintable(QString("%1[%2]: %3 vs %4").arg(what).arg(i).arg(a[i]).arg(b[i])));
}

// The analysis reusing an EoRA basis built as a compression run builds it (with factors).
void checkReuse(const at::Tensor& w, const at::Tensor& dW, const rs::InputStats& stats,
                const rs::LayerAnalysis& alone) {
    const int64_t rank = std::min<int64_t>(8, std::min(dW.size(0), dW.size(1)));
    const auto basis = rs::buildCompensationBasis(
        rs::MethodConfig::parse("eora", rs::MethodKind::Compensation), dW, stats, rank, "layer");
    const rs::LayerAnalysis reused = rs::analyzeLayer(w, dW, stats, "layer", *basis);
    const double energy = alone.curves.errorEnergy;
    expectSame(reused.curves.svd, alone.curves.svd, energy, "svd curve");
    expectSame(reused.curves.eora, alone.curves.eora, energy, "eora curve");
    expectSame(reused.spectra.scaledErrorSingular, alone.spectra.scaledErrorSingular,
               alone.spectra.scaledErrorSingular.front(), "sigma(dW S)");
    expectSame(reused.spectra.errorSingular, alone.spectra.errorSingular,
               alone.spectra.errorSingular.front(), "sigma(dW)");
}

// The analysis given the eigenvalues of C of another layer at the same input site.
void checkSharedGram(const at::Tensor& w, const at::Tensor& dW, const rs::InputStats& stats,
                     const std::vector<double>& siteValues, const rs::LayerAnalysis& alone) {
    rs::AnalysisReuse reuse;
    reuse.gramEigenvalues = &siteValues;
    const rs::LayerAnalysis shared = rs::analyzeLayer(w, dW, stats, "layer", reuse);
    expectSame(shared.spectra.gramEigenvalues, alone.spectra.gramEigenvalues,
               alone.spectra.gramEigenvalues.front(), "lambda(C)");
    QCOMPARE(shared.spectra.discardedModes, alone.spectra.discardedModes);
    QCOMPARE(shared.spectra.tolerance, alone.spectra.tolerance);
    const double energy = alone.curves.errorEnergy;
    expectSame(shared.curves.svd, alone.curves.svd, energy, "svd curve");
    expectSame(shared.curves.eora, alone.curves.eora, energy, "eora curve");
    expectSame(shared.spectra.weightSingular, alone.spectra.weightSingular,
               alone.spectra.weightSingular.front(), "sigma(W)");
}

void expectError(const std::function<void()>& call, const std::string& fragment) {
    const std::string what = rs::test::errorOf(call);
    QVERIFY2(what.rfind("bad.layer: ", 0) == 0, what.c_str());
    QVERIFY2(what.find(fragment) != std::string::npos, what.c_str());
}

} // namespace

class TestAnalysis : public QObject {
    Q_OBJECT
private slots:
    void realStoriesLayers();
    void rankDeficientGram();
    void mixedPrecisionLayers();
    void reusedBasisMustMatch();
};

void TestAnalysis::realStoriesLayers() {
    const auto session = rs::test::openDemo();
    const int64_t layers = session->model().numLayers();
    std::vector<std::array<rs::InputStats, 4>> stats(static_cast<size_t>(layers));
    session->model().setLinearInputHook(
        [&](int64_t layer, rs::InputSite site, const at::Tensor& x) {
            stats[static_cast<size_t>(layer)][static_cast<size_t>(site)].accumulate(x);
        });
    const int64_t chunk = 512;
    rs::test::forwardCalibrationText(*session, chunk);
    session->model().setLinearInputHook({});
    int64_t checked = 0, shared = 0;
    for (int64_t layer = 0; layer < layers; ++layer) {
        std::map<rs::InputSite, std::vector<double>> siteValues; // q/k/v and gate/up share C
        for (rs::LinearKind kind : rs::kAllLinearKinds) {
            const std::string name = rs::linearName(layer, kind);
            const rs::InputStats& s =
                stats[static_cast<size_t>(layer)][static_cast<size_t>(rs::inputSiteOf(kind))];
            QVERIFY(s.tokens >= 4 * chunk);
            const at::Tensor w = session->checkpoint().require(name + ".weight").to(at::kFloat);
            const at::Tensor dW = rtnError(w);
            const rs::LayerAnalysis a = rs::analyzeLayer(w, dW, s, name);
            checkAgainstReference(a, Reference(w, dW, s.gram), kFloat64, name);
            if (kind == rs::LinearKind::Down)
                checkReuse(w, dW, s, a);
            const auto [known, first] =
                siteValues.try_emplace(rs::inputSiteOf(kind), a.spectra.gramEigenvalues);
            if (!first) {
                checkSharedGram(w, dW, s, known->second, a);
                ++shared;
            }
            ++checked;
        }
    }
    QCOMPARE(checked, 7 * layers);
    QCOMPARE(shared, 3 * layers); // k, v after q; up after gate
}

void TestAnalysis::rankDeficientGram() {
    // 200 tokens for 384 inputs, one of them dead: rank(C) = 200. Wide and tall layers.
    at::manual_seed(201);
    const rs::InputStats wide = statsOf(calibrationInputs(200, 384, 17));
    at::Tensor w = at::randn({256, 384});
    at::Tensor dW = rtnError(w);
    rs::LayerAnalysis a = rs::analyzeLayer(w, dW, wide, "wide");
    Reference ref(w, dW, wide.gram);
    QCOMPARE(ref.discarded, int64_t(384 - 200));
    checkAgainstReference(a, ref, kFloat64, "wide");
    checkReuse(w, dW, wide, a);

    const rs::InputStats tall = statsOf(calibrationInputs(200, 256, 17));
    w = at::randn({384, 256});
    dW = rtnError(w);
    a = rs::analyzeLayer(w, dW, tall, "tall");
    ref = Reference(w, dW, tall.gram);
    checkAgainstReference(a, ref, kFloat64, "tall");
    checkReuse(w, dW, tall, a);
    // A second layer on the same singular C, given the first one's eigenvalues and its own basis.
    const at::Tensor w2 = at::randn({128, 256});
    const at::Tensor dW2 = rtnError(w2);
    const rs::LayerAnalysis second = rs::analyzeLayer(w2, dW2, tall, "second");
    checkSharedGram(w2, dW2, tall, a.spectra.gramEigenvalues, second);
    const auto basis = rs::buildCompensationBasis(
        rs::MethodConfig::parse("eora", rs::MethodKind::Compensation), dW2, tall, 4, "second");
    rs::AnalysisReuse both{basis.get(), &a.spectra.gramEigenvalues};
    checkAgainstReference(rs::analyzeLayer(w2, dW2, tall, "second", both),
                          Reference(w2, dW2, tall.gram), kFloat64, "second, reused");
    // Eigenvalues passed in are taken as given, not recomputed: scaled within the trace check,
    // they come back scaled.
    std::vector<double> scaled = a.spectra.gramEigenvalues;
    for (double& l : scaled)
        l *= 1.0 + 1e-5;
    both.gramEigenvalues = &scaled;
    QCOMPARE(rs::analyzeLayer(w2, dW2, tall, "second", both).spectra.gramEigenvalues, scaled);

    // The analysis of W itself (low-rank replacement): sigma(W) = sigma(dW), E_out = E(0).
    a = rs::analyzeLayer(w, w, tall, "self");
    ref = Reference(w, w, tall.gram);
    checkAgainstReference(a, ref, kFloat64, "self");
}

void TestAnalysis::mixedPrecisionLayers() {
    // min(d_out, d_in) >= 1024: float32 products and band reductions, float64 singular vectors of
    // dW with a float32 back-transformation.
    at::manual_seed(202);
    const rs::InputStats stats = statsOf(calibrationInputs(3000, 1100, 5));
    const at::Tensor w = at::randn({1024, 1100});
    const at::Tensor dW = rtnError(w);
    const rs::LayerAnalysis a = rs::analyzeLayer(w, dW, stats, "mixed");
    checkAgainstReference(a, Reference(w, dW, stats.gram), kMixed, "mixed");
    checkReuse(w, dW, stats, a);
    // C stored in its storage dtype (float32 at this size) and read back as float64 moves the
    // curves by less than the mixed-precision stages themselves are allowed to.
    QCOMPARE(rs::gramStorageType(stats.gram.size(0)), at::kFloat);
    rs::InputStats stored = stats;
    stored.gram = stats.gram.to(at::kFloat).to(at::kDouble);
    const rs::LayerAnalysis fromStored = rs::analyzeLayer(w, dW, stored, "stored");
    double moved = 0.0;
    for (size_t r = 0; r < a.curves.eora.size(); ++r)
        moved = std::max({moved, std::abs(fromStored.curves.eora[r] - a.curves.eora[r]),
                          std::abs(fromStored.curves.svd[r] - a.curves.svd[r])});
    qInfo("curves from C stored in float32 move by %.2e of E(0)", moved / a.curves.errorEnergy);
    QVERIFY(moved < kMixedCurveTolerance * a.curves.errorEnergy);
    QCOMPARE(rs::gramStorageType(1023), at::kDouble); // stories260K's C stays exact

    // Started ahead of the basis (as the jobs do), the eigenvalues of C are the analysis's own.
    QVERIFY(rs::startGramEigenvalues(stats, "site").get() == a.spectra.gramEigenvalues);
}

void TestAnalysis::reusedBasisMustMatch() {
    at::manual_seed(203);
    const rs::InputStats stats = statsOf(calibrationInputs(100, 40, -1));
    const at::Tensor w = at::randn({30, 40});
    const at::Tensor dW = rtnError(w);
    const auto basis = [&](const char* method, const at::Tensor& error) {
        return rs::buildCompensationBasis(
            rs::MethodConfig::parse(method, rs::MethodKind::Compensation), error, stats, 4, "x");
    };
    expectError([&] { rs::analyzeLayer(w, dW, stats, "bad.layer", *basis("svd", dW)); },
                "EoRA basis only");
    expectError([&] { rs::analyzeLayer(w, dW, stats, "bad.layer", *basis("eora", dW * 2)); },
                "another weight error");
    const rs::InputStats other = statsOf(calibrationInputs(100, 40, -1));
    expectError([&] { rs::analyzeLayer(w, dW, other, "bad.layer", *basis("eora", dW)); },
                "other statistics");

    // Eigenvalues of C from other statistics, or too few of them.
    const std::vector<double> otherValues =
        rs::analyzeLayer(w, dW, other, "other").spectra.gramEigenvalues;
    rs::AnalysisReuse reuse;
    reuse.gramEigenvalues = &otherValues;
    expectError([&] { rs::analyzeLayer(w, dW, stats, "bad.layer", reuse); }, "other statistics");
    std::vector<double> truncated = rs::analyzeLayer(w, dW, stats, "x").spectra.gramEigenvalues;
    truncated.pop_back();
    reuse.gramEigenvalues = &truncated;
    expectError([&] { rs::analyzeLayer(w, dW, stats, "bad.layer", reuse); }, "other statistics");

    rs::InputStats broken = stats;
    broken.gram = stats.gram.clone();
    broken.gram[3][5] = std::numeric_limits<double>::quiet_NaN();
    expectError([&] { rs::startGramEigenvalues(broken, "bad.layer"); }, "NaN or Inf");
}

QTEST_GUILESS_MAIN(TestAnalysis)
#include "tst_analysis.moc"
