#include "calib/stats.h"
#include "calibration_inputs.h"
#include "compensate/compensation.h"
#include "compensate/gram_factor.h"
#include "compensate/symmetric.h"
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "methods/registry.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"
#include "util/interruptible.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <Eigen/Dense>
#include <QTest>
#include <algorithm>
#include <cfloat>
#include <cmath>

namespace {

using rs::test::calibrationInputs;
using rs::test::rtnError;
using rs::test::statsOf;

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;

// Float32 factors against the float64 reference product B A (relative Frobenius).
constexpr double kProductTolerance = 2e-5;
// Curves against the float64 reference, relative to tr(dW C dW^T).
constexpr double kCurveTolerance = 1e-9;
// A curve value against the measured error of the float32 factors, relative to tr(dW C dW^T).
constexpr double kMeasuredTolerance = 1e-6;
// Slack for the theorem E_eora(r) <= E_svd(r) (round-off only), relative to tr(dW C dW^T).
constexpr double kTheoremSlack = 1e-12;
// Banded eigensolver against the dense reference: eigenvalues relative to the largest, and the
// sine of the largest principal angle between leading eigenspaces.
constexpr double kEigenvalueTolerance = 1e-12;
constexpr double kSubspaceTolerance = 1e-8;
// Singular values from Gram eigenvalues, relative to the largest (about sqrt(eps_float64)).
constexpr double kSpectrumTolerance = 1e-6;
// Precision::Mixed (layers with min(d_out, d_in) >= 1024) against float64: curves relative to
// tr(dW C dW^T), B A relative Frobenius (measured 2e-8 and 4e-5 at worst).
constexpr double kMixedCurveTolerance = 1e-6;
constexpr double kMixedProductTolerance = 1e-4;
// Below this fraction of s_1 a singular value of dW S counts as zero (product no longer unique).
constexpr double kRankGap = 1e-9;
// Sliced float32 products (congruence of a wide layer, tr(W C W^T)) against float64, relative to
// the largest entry of the result or to the trace.
constexpr double kSlicedProductTolerance = 1e-5;

Mat toEigen(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
    return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        c.data_ptr<double>(), c.size(0), c.size(1));
}

double measured(const Mat& dW, const Mat& ba, const Mat& c) {
    const Mat r = dW - ba;
    return (r * c * r.transpose()).trace();
}

double relativeDiff(const Mat& a, const Mat& b) {
    return (a - b).norm() / std::max(b.norm(), 1e-300);
}

// The float64 reference, written from docs/design.md §2 with Eigen: truncated SVD of dW, and EoRA
// through the eigendecomposition of C with the truncated pseudo-inverse.
struct Reference {
    Mat dW, c;
    Mat svdU, svdV;
    Vec svdS;
    Mat eoraU, eoraV, sPlus, keptProjector;
    Vec eoraS;
    int64_t discarded = 0;

    Reference(const at::Tensor& error, const at::Tensor& gram)
        : dW(toEigen(error))
        , c(toEigen(gram)) {
        Eigen::BDCSVD<Mat> svd(dW, Eigen::ComputeThinU | Eigen::ComputeThinV);
        svdU = svd.matrixU();
        svdV = svd.matrixV();
        svdS = svd.singularValues();
        Eigen::SelfAdjointEigenSolver<Mat> eig(c);
        const Vec l = eig.eigenvalues();
        const double tol = l.maxCoeff() * std::max<double>(1.0, double(c.rows())) * FLT_EPSILON;
        std::vector<int> kept;
        for (int i = 0; i < l.size(); ++i)
            if (l(i) > tol)
                kept.push_back(i);
        discarded = l.size() - int64_t(kept.size());
        Mat q(c.rows(), kept.size());
        Vec lk(kept.size());
        for (size_t j = 0; j < kept.size(); ++j) {
            q.col(j) = eig.eigenvectors().col(kept[j]);
            lk(j) = l(kept[j]);
        }
        const Mat s = q * lk.cwiseSqrt().asDiagonal();
        sPlus = lk.cwiseSqrt().cwiseInverse().asDiagonal() * q.transpose();
        keptProjector = q * q.transpose();
        Eigen::BDCSVD<Mat> scaled(dW * s, Eigen::ComputeThinU | Eigen::ComputeThinV);
        eoraU = scaled.matrixU();
        eoraV = scaled.matrixV();
        eoraS = scaled.singularValues();
    }
    Mat svdProduct(int r) const {
        return svdU.leftCols(r) * svdS.head(r).asDiagonal() * svdV.leftCols(r).transpose();
    }
    // EoRA as the textbook formula writes it: zero in the discarded modes of C.
    Mat eoraProduct(int r) const {
        r = std::min<int>(r, int(eoraS.size()));
        return eoraU.leftCols(r) * eoraS.head(r).asDiagonal() * eoraV.leftCols(r).transpose() *
               sPlus;
    }
    // The projection U_r U_r^T dW with EoRA's left vectors (equal to eoraProduct on the span of C).
    Mat eoraProjection(int r) const {
        r = std::min<int>(r, int(eoraS.size()));
        return eoraU.leftCols(r) * eoraU.leftCols(r).transpose() * dW;
    }
    double energy() const { return measured(dW, Mat::Zero(dW.rows(), dW.cols()), c); }
};

Mat productOf(const rs::LowRankFactors& f, int64_t dOut, int64_t dIn) {
    if (f.rank() == 0)
        return Mat::Zero(dOut, dIn);
    return toEigen(f.B) * toEigen(f.A);
}

std::unique_ptr<rs::CompensationBasis> basisFor(const std::string& method, const at::Tensor& dW,
                                                const rs::InputStats& stats, int64_t rank,
                                                const std::string& layer = "test.layer") {
    return rs::buildCompensationBasis(rs::MethodConfig::parse(method, rs::MethodKind::Compensation),
                                      dW, stats, rank, layer);
}

// Checks factors and curves of svd and eora against the reference for one layer.
void checkAgainstReference(const at::Tensor& dW, const rs::InputStats& stats,
                           const std::vector<int>& ranks) {
    const Reference ref(dW, stats.gram);
    const int64_t dOut = dW.size(0), dIn = dW.size(1), full = std::min(dOut, dIn);
    const double energy = ref.energy();
    const auto svd = basisFor("svd", dW, stats, full);
    const auto eora = basisFor("eora", dW, stats, full);
    const std::vector<double> svdCurve = svd->errorCurve();
    const std::vector<double> eoraCurve = eora->errorCurve();
    QCOMPARE(svdCurve.size(), size_t(full + 1));
    QCOMPARE(eoraCurve.size(), size_t(full + 1));
    for (int r : ranks) {
        const Mat svdBa = productOf(svd->factorsAt(r), dOut, dIn);
        const Mat eoraBa = productOf(eora->factorsAt(r), dOut, dIn);
        if (r > 0)
            QVERIFY2(relativeDiff(svdBa, ref.svdProduct(r)) < kProductTolerance,
                     qPrintable(QString("svd r=%1").arg(r)));
        // EoRA's product is unique up to the rank of dW S (beyond it any null direction of
        // dW C dW^T is optimal).
        if (r > 0 && r <= ref.eoraS.size() && ref.eoraS(r - 1) > kRankGap * ref.eoraS(0)) {
            // On the span of C the product is the textbook EoRA; off it, dW's own projection.
            QVERIFY2(relativeDiff(eoraBa * ref.keptProjector, ref.eoraProduct(r)) <
                         kProductTolerance,
                     qPrintable(QString("eora r=%1").arg(r)));
            QVERIFY2(relativeDiff(eoraBa, ref.eoraProjection(r)) < kProductTolerance,
                     qPrintable(QString("eora projection r=%1").arg(r)));
        }
        const double svdRef = measured(ref.dW, ref.svdProduct(r), ref.c);
        const double eoraRef = measured(ref.dW, ref.eoraProduct(r), ref.c);
        QVERIFY2(
            std::abs(svdCurve[r] - svdRef) < kCurveTolerance * energy,
            qPrintable(QString("svd curve r=%1: %2 vs %3").arg(r).arg(svdCurve[r]).arg(svdRef)));
        QVERIFY2(
            std::abs(eoraCurve[r] - eoraRef) < kCurveTolerance * energy,
            qPrintable(QString("eora curve r=%1: %2 vs %3").arg(r).arg(eoraCurve[r]).arg(eoraRef)));
    }
    QCOMPARE(eora->discardedModes(), ref.discarded);
    QCOMPARE(svd->discardedModes(), int64_t(0));

    const rs::LayerAnalysis analysis =
        rs::analyzeLayer(dW + at::randn_like(dW), dW, stats, "test.layer");
    QCOMPARE(analysis.spectra.discardedModes, ref.discarded);
    QVERIFY(std::abs(analysis.curves.errorEnergy - energy) < kCurveTolerance * energy);
    for (int64_t r = 0; r <= full; ++r) {
        QVERIFY(std::abs(analysis.curves.svd[r] - svdCurve[r]) < kCurveTolerance * energy);
        QVERIFY(std::abs(analysis.curves.eora[r] - eoraCurve[r]) < kCurveTolerance * energy);
    }
    for (int64_t i = 0; i < full; ++i) {
        QVERIFY(std::abs(analysis.spectra.errorSingular[i] - ref.svdS(i)) <
                kSpectrumTolerance * ref.svdS(0));
        QVERIFY(std::abs(analysis.spectra.scaledErrorSingular[i] -
                         (i < ref.eoraS.size() ? ref.eoraS(i) : 0.0)) <
                kSpectrumTolerance * ref.eoraS(0));
    }
}

void expectError(const std::function<void()>& call, const std::string& fragment) {
    try {
        call();
    } catch (const rs::Error& e) {
        const std::string what = e.what();
        QVERIFY2(what.find("bad.layer: ") == 0, e.what());
        QVERIFY2(what.find(fragment) != std::string::npos, e.what());
        return;
    }
    QFAIL(("no error for " + fragment).c_str());
}

} // namespace

class TestCompensate : public QObject {
    Q_OBJECT
private slots:
    void wideLayerMatchesReference();
    void tallLayerMatchesReference();
    void rankDeficientGramMatchesReference();
    void deadChannelIsOneDiscardedMode();
    void eoraNeverWorseThanSvd();
    void curvesEqualMeasuredError_data();
    void curvesEqualMeasuredError();
    void asvdWithZeroAlphaIsSvd();
    void asvdMatchesReference();
    void bandedSpectrumMatchesDense();
    void inertiaCountsIndefiniteMatrices();
    void largeLayerUsesBandedPath();
    void bandedPathHonoursTheJobsCancel();
    void mixedPrecisionMatchesFloat64();
    void singularGramFallsBackInMixedPrecision();
    void wideLayerKeepsDirectProducts();
    void slicedProductsMatchFloat64();
    void errorsNameTheLayer();
    void realStoriesLayer();
};

void TestCompensate::wideLayerMatchesReference() {
    at::manual_seed(101);
    const at::Tensor dW = rtnError(at::randn({40, 56}));
    const rs::InputStats stats = statsOf(calibrationInputs(300, 56, -1));
    checkAgainstReference(dW, stats, {0, 1, 5, 17, 40});
    // d_in <= 1.5 d_out with a positive definite C: dW C dW^T = (dW L)(dW L)^T.
    QCOMPARE(basisFor("eora", dW, stats, 4)->gramRoute(), std::string("cholesky"));
    QCOMPARE(basisFor("svd", dW, stats, 4)->gramRoute(), std::string());
}

void TestCompensate::tallLayerMatchesReference() {
    at::manual_seed(102);
    const at::Tensor dW = rtnError(at::randn({70, 48}));
    checkAgainstReference(dW, statsOf(calibrationInputs(300, 48, -1)), {0, 1, 8, 30, 48});
}

void TestCompensate::rankDeficientGramMatchesReference() {
    // Fewer tokens than inputs plus a dead channel: rank(X) = 30 of 64.
    at::manual_seed(103);
    const at::Tensor dW = rtnError(at::randn({50, 64}));
    const at::Tensor x = calibrationInputs(30, 64, 5);
    QCOMPARE(at::linalg_matrix_rank(x.to(at::kDouble)).item<int64_t>(), int64_t(30));
    const rs::InputStats stats = statsOf(x);
    checkAgainstReference(dW, stats, {0, 1, 10, 30, 50});
    const auto eora = basisFor("eora", dW, stats, 10);
    QCOMPARE(eora->discardedModes(), int64_t(64 - 30));
    // The Cholesky factorisation breaks down; the direct products are used and the route says so.
    const std::string route = eora->gramRoute();
    QVERIFY2(route.rfind("direct: ", 0) == 0, route.c_str());
    QVERIFY2(route.find("not numerically positive definite") != std::string::npos, route.c_str());
}

void TestCompensate::deadChannelIsOneDiscardedMode() {
    at::manual_seed(104);
    const at::Tensor dW = rtnError(at::randn({32, 48}));
    const rs::InputStats stats = statsOf(calibrationInputs(500, 48, 11));
    const auto eora = basisFor("eora", dW, stats, 4);
    QCOMPARE(eora->discardedModes(), int64_t(1));
    // The dead channel is dropped before the factorisation (it adds nothing to dW C dW^T).
    QCOMPARE(eora->gramRoute(), std::string("cholesky: 1 dead input channel dropped"));
    checkAgainstReference(dW, stats, {0, 4, 32});
}

void TestCompensate::eoraNeverWorseThanSvd() {
    at::manual_seed(105);
    for (const auto& [dOut, dIn, tokens] :
         std::vector<std::tuple<int64_t, int64_t, int64_t>>{{30, 50, 20}, {60, 40, 400}}) {
        const at::Tensor dW = rtnError(at::randn({dOut, dIn}));
        const rs::InputStats stats = statsOf(calibrationInputs(tokens, dIn, 3));
        const rs::ErrorCurves c = rs::analyzeLayer(dW * 4, dW, stats, "l").curves;
        for (size_t r = 0; r < c.svd.size(); ++r)
            QVERIFY2(c.eora[r] <= c.svd[r] + kTheoremSlack * c.errorEnergy,
                     qPrintable(QString("r=%1").arg(r)));
        QVERIFY(c.eora[5] < c.svd[5]);
        QVERIFY(c.outputEnergy > c.errorEnergy);
    }
}

// One row per compensation of the registry that fits factors, plus ASVD at another alpha.
void TestCompensate::curvesEqualMeasuredError_data() {
    QTest::addColumn<QString>("method");
    for (const rs::MethodSpec* spec : rs::methodsOfKind(rs::MethodKind::Compensation))
        if (spec->fitsFactors())
            QTest::newRow(spec->id.c_str()) << QString::fromStdString(spec->id);
    QTest::newRow("asvd:alpha=1.5") << QStringLiteral("asvd:alpha=1.5");
}

void TestCompensate::curvesEqualMeasuredError() {
    QFETCH(QString, method);
    at::manual_seed(106);
    const at::Tensor dW = rtnError(at::randn({36, 44}));
    const rs::InputStats stats = statsOf(calibrationInputs(100, 44, -1));
    const auto basis = basisFor(method.toStdString(), dW, stats, 36);
    const std::vector<double> curve = basis->errorCurve();
    for (int64_t r : {0, 1, 3, 10, 35, 36}) {
        const double error = rs::compensatedError(dW, basis->factorsAt(r), stats.gram);
        QVERIFY2(std::abs(curve[r] - error) < kMeasuredTolerance * curve[0],
                 qPrintable(QString("r=%1").arg(r)));
        if (r > 0)
            QVERIFY(curve[r] <= curve[r - 1]);
    }
    QVERIFY(curve[36] < kMeasuredTolerance * curve[0]);
}

void TestCompensate::asvdWithZeroAlphaIsSvd() {
    at::manual_seed(107);
    const at::Tensor dW = rtnError(at::randn({24, 40}));
    const rs::InputStats stats = statsOf(calibrationInputs(80, 40, 2));
    const auto svd = basisFor("svd", dW, stats, 12);
    const auto asvd = basisFor("asvd:alpha=0", dW, stats, 12);
    for (int64_t r : {1, 6, 12})
        QVERIFY(relativeDiff(productOf(asvd->factorsAt(r), 24, 40),
                             productOf(svd->factorsAt(r), 24, 40)) < kProductTolerance);
    QCOMPARE(asvd->discardedModes(), int64_t(0));
}

void TestCompensate::asvdMatchesReference() {
    at::manual_seed(108);
    const at::Tensor dW = rtnError(at::randn({30, 42}));
    const rs::InputStats stats = statsOf(calibrationInputs(90, 42, -1));
    const double alpha = 0.5;
    const Vec s = toEigen(stats.meanAbs.unsqueeze(1)).col(0).array().pow(alpha);
    const Mat dW64 = toEigen(dW);
    Eigen::BDCSVD<Mat> svd(dW64 * s.asDiagonal(), Eigen::ComputeThinU | Eigen::ComputeThinV);
    const auto basis = basisFor("asvd", dW, stats, 20);
    for (int r : {1, 7, 20}) {
        const Mat ref = svd.matrixU().leftCols(r) * svd.singularValues().head(r).asDiagonal() *
                        svd.matrixV().leftCols(r).transpose() * s.cwiseInverse().asDiagonal();
        QVERIFY(relativeDiff(productOf(basis->factorsAt(r), 30, 42), ref) < kProductTolerance);
    }
}

void TestCompensate::bandedSpectrumMatchesDense() {
    at::manual_seed(109);
    const int64_t n = 900;
    const at::Tensor q = std::get<0>(at::linalg_qr(at::randn({n, n}, at::kDouble)));
    const at::Tensor l = at::pow(at::arange(1, n + 1, at::kDouble), -1.5) * 7.0;
    l.narrow(0, n - 40, 40).zero_(); // a null space, as in a rank-deficient C
    const at::Tensor a = at::mm(q * l.unsqueeze(0), q.t());
    const rs::compensate::SymmetricSpectrum spectrum(a, rs::compensate::Precision::Float64);
    const Mat ref = toEigen(a);
    Eigen::SelfAdjointEigenSolver<Mat> eig(ref);
    const Vec values = eig.eigenvalues().reverse();
    const std::vector<double> got = rs::compensate::toVector(spectrum.eigenvalues());
    for (int64_t i = 0; i < n; ++i)
        QVERIFY(std::abs(got[i] - values(i)) < kEigenvalueTolerance * values(0));
    const int k = 24;
    const rs::compensate::EigenPairs pairs = spectrum.leading(k);
    const Mat v = toEigen(pairs.vectors);
    const Mat refV = eig.eigenvectors().rightCols(k);
    const Mat cross = refV.transpose() * v;
    Eigen::JacobiSVD<Mat> angles(cross);
    QVERIFY(1.0 - angles.singularValues().minCoeff() < kSubspaceTolerance);
    QVERIFY(((v.transpose() * v) - Mat::Identity(k, k)).norm() < kSubspaceTolerance);
    const double tol = 1.5e-3 * values(0); // no eigenvalue sits at the threshold
    int64_t below = 0;
    for (int64_t i = 0; i < n; ++i)
        below += values(i) <= tol ? 1 : 0;
    QCOMPARE(rs::compensate::countEigenvaluesAtMost(a, tol), below);

    // A spectrum built for eigenvalues only gives the same ones and refuses eigenvectors.
    const rs::compensate::SymmetricSpectrum valuesOnly(
        a, rs::compensate::Precision::Float64, rs::compensate::SymmetricSpectrum::Use::ValuesOnly);
    QVERIFY(at::equal(valuesOnly.eigenvalues(), spectrum.eigenvalues()));
    QVERIFY(rs::test::errorOf([&] { valuesOnly.leading(k); }).find("eigenvalues only") !=
            std::string::npos);
}

void TestCompensate::inertiaCountsIndefiniteMatrices() {
    // A symmetric matrix with eigenvalues of both signs near every threshold makes Bunch-Kaufman
    // choose 2 x 2 pivots; the count must still match the eigenvalues exactly.
    at::manual_seed(111);
    const int64_t n = 300;
    const at::Tensor g = at::randn({n, n}, at::kDouble);
    const at::Tensor a = g + g.t();
    Eigen::SelfAdjointEigenSolver<Mat> eig(toEigen(a));
    const Vec values = eig.eigenvalues();
    for (const int64_t split : {0L, 1L, 57L, 150L, 299L}) {
        // Halfway between two neighbouring eigenvalues, so rounding cannot move one across.
        const double tol = split == 0 ? values(0) - 1.0 : 0.5 * (values(split - 1) + values(split));
        QCOMPARE(rs::compensate::countEigenvaluesAtMost(a, tol), split);
        QCOMPARE(rs::compensate::countEigenvaluesAtMost(a.to(at::kFloat), tol), split);
    }
    // The exactly symmetric float64 matrix was factorised in place: it must be back bit for bit.
    QVERIFY(at::equal(a, g + g.t()));
    // One ulp of asymmetry takes the copying path, with the same count, leaving the input alone.
    at::Tensor nearly = a.clone();
    nearly[0][1] = std::nextafter(nearly[0][1].item<double>(), 1e300);
    const at::Tensor before = nearly.clone();
    QCOMPARE(rs::compensate::countEigenvaluesAtMost(nearly, 0.5 * (values(56) + values(57))), 57L);
    QVERIFY(at::equal(nearly, before));
}

void TestCompensate::largeLayerUsesBandedPath() {
    // d_out >= 768 takes the band-reduction route on the CPU.
    at::manual_seed(110);
    const at::Tensor dW = rtnError(at::randn({800, 820}));
    const rs::InputStats stats = statsOf(calibrationInputs(1200, 820, 9));
    const Reference ref(dW, stats.gram);
    const auto eora = basisFor("eora", dW, stats, 16);
    const std::vector<double> curve = eora->errorCurve();
    const double energy = ref.energy();
    for (int r : {0, 16, 200, 800})
        QVERIFY(std::abs(curve[r] - measured(ref.dW, ref.eoraProduct(r), ref.c)) <
                kCurveTolerance * energy);
    QVERIFY(relativeDiff(productOf(eora->factorsAt(16), 800, 820), ref.eoraProjection(16)) <
            kProductTolerance);
    QCOMPARE(eora->discardedModes(), int64_t(1));
}

void TestCompensate::bandedPathHonoursTheJobsCancel() {
    at::manual_seed(110);
    const at::Tensor dW = rtnError(at::randn({800, 820}));
    const rs::InputStats stats = statsOf(calibrationInputs(1200, 820, 9));
    const std::vector<double> inline_ = basisFor("eora", dW, stats, 16)->errorCurve();
    rs::CancelToken cancelled;
    cancelled.cancel();
    {
        const rs::CancelScope scope(cancelled);
        QVERIFY_THROWS_EXCEPTION(rs::CancelledError, basisFor("eora", dW, stats, 16));
    }
    rs::waitForAbandonedWork();
    // Inside a live scope the reductions run on their own threads: the same numbers.
    const rs::CancelScope scope(rs::CancelToken{});
    QVERIFY(basisFor("eora", dW, stats, 16)->errorCurve() == inline_);
}

void TestCompensate::mixedPrecisionMatchesFloat64() {
    // min(d_out, d_in) >= 1024: the basis forms dW C dW^T and its band form in float32.
    at::manual_seed(111);
    const at::Tensor dW = rtnError(at::randn({1024, 1100}));
    const rs::InputStats stats = statsOf(calibrationInputs(3000, 1100, 5));
    const at::Tensor e = dW.to(at::kDouble);
    const at::Tensor m = at::mm(at::mm(e, stats.gram), e.t());
    auto [values, vectors] = at::linalg_eigh((m + m.t()) * 0.5); // float64 reference, ascending
    const at::Tensor tails = values.clamp_min(0.0).cumsum(0).flip(0); // tails[r] = E(r), r < n
    const double energy = tails[0].item<double>();

    for (const char* method : {"eora", "svd"}) {
        const auto basis = basisFor(method, dW, stats, 32);
        if (std::string(method) == "eora") // the factored route, float32 products
            QCOMPARE(basis->gramRoute(), std::string("cholesky: 1 dead input channel dropped"));
        const std::vector<double> curve = basis->errorCurve();
        QCOMPARE(curve.size(), size_t(1025));
        for (int r : {0, 8, 32})
            QVERIFY2(
                std::abs(curve[r] - rs::compensatedError(dW, basis->factorsAt(r), stats.gram)) <
                    kMeasuredTolerance * energy,
                qPrintable(QString("%1 r=%2").arg(method).arg(r)));
        if (std::string(method) != "eora")
            continue;
        for (int r : {0, 8, 32, 500, 1023})
            QVERIFY2(std::abs(curve[r] - tails[r].item<double>()) < kMixedCurveTolerance * energy,
                     qPrintable(QString("eora curve r=%1").arg(r)));
        const at::Tensor u = vectors.flip(1).narrow(1, 0, 32);
        const Mat ref = toEigen(at::mm(u, at::mm(u.t(), e)));
        QVERIFY(relativeDiff(productOf(basis->factorsAt(32), 1024, 1100), ref) <
                kMixedProductTolerance);
    }
}

void TestCompensate::singularGramFallsBackInMixedPrecision() {
    // Fewer tokens than inputs at a size that takes the float32 stages: no Cholesky factor, the
    // direct products give the same optimum.
    at::manual_seed(112);
    const at::Tensor dW = rtnError(at::randn({1024, 1100}));
    const rs::InputStats stats = statsOf(calibrationInputs(1000, 1100, -1));
    const at::Tensor e = dW.to(at::kDouble);
    const at::Tensor m = at::mm(at::mm(e, stats.gram), e.t());
    auto [values, vectors] = at::linalg_eigh((m + m.t()) * 0.5);
    const at::Tensor tails = values.clamp_min(0.0).cumsum(0).flip(0);
    const double energy = tails[0].item<double>();
    const auto basis = basisFor("eora", dW, stats, 32);
    const std::string route = basis->gramRoute();
    QVERIFY2(route.rfind("direct: ", 0) == 0, route.c_str());
    const std::vector<double> curve = basis->errorCurve();
    for (int r : {0, 8, 32, 500, 999, 1023})
        QVERIFY2(std::abs(curve[r] - tails[r].item<double>()) < kMixedCurveTolerance * energy,
                 qPrintable(QString("r=%1").arg(r)));
    const at::Tensor u = vectors.flip(1).narrow(1, 0, 32);
    QVERIFY(relativeDiff(productOf(basis->factorsAt(32), 1024, 1100),
                         toEigen(at::mm(u, at::mm(u.t(), e)))) < kMixedProductTolerance);
}

void TestCompensate::wideLayerKeepsDirectProducts() {
    // d_in > 1.5 d_out: factoring C would cost more than it saves.
    at::manual_seed(113);
    const at::Tensor dW = rtnError(at::randn({20, 64}));
    const rs::InputStats stats = statsOf(calibrationInputs(200, 64, -1));
    checkAgainstReference(dW, stats, {0, 3, 20});
    QCOMPARE(basisFor("eora", dW, stats, 3)->gramRoute(),
             std::string("direct: d_in > 1.5 d_out, factoring C would cost more than it saves"));
}

void TestCompensate::slicedProductsMatchFloat64() {
    // Wider than the conversion slice and the trace block (2048), with a ragged last slice.
    at::manual_seed(127);
    const int64_t m = 1024, n = 2300;
    const at::Tensor g = at::randn({n, n}, at::kDouble) / std::sqrt(double(n));
    const at::Tensor c = at::mm(g, g.t()); // exactly symmetric, as calibration leaves C
    const at::Tensor p = at::randn({m, n}, at::kDouble);
    const at::Tensor reference = at::mm(at::mm(p, c), p.t());
    const at::Tensor mixed = rs::compensate::congruence(p, c, rs::compensate::Precision::Mixed);
    QCOMPARE(mixed.scalar_type(), at::kFloat); // single stages, so C was converted in slices
    const double scale = reference.abs().max().item<double>();
    QVERIFY((mixed.to(at::kDouble) - reference).abs().max().item<double>() <
            kSlicedProductTolerance * scale);

    const at::Tensor w = p.narrow(0, 0, 40);
    const double trace = at::trace(at::mm(at::mm(w, c), w.t())).item<double>();
    QVERIFY(std::abs(rs::compensate::congruenceTrace(w, c) - trace) < kEigenvalueTolerance * trace);
    QVERIFY(std::abs(rs::compensate::congruenceTrace(w.to(at::kFloat), c) - trace) <
            kSlicedProductTolerance * trace);
}

void TestCompensate::errorsNameTheLayer() {
    at::manual_seed(111);
    const at::Tensor dW = rtnError(at::randn({16, 24}));
    const rs::InputStats stats = statsOf(calibrationInputs(50, 24, -1));
    const auto eora = rs::MethodConfig::parse("eora", rs::MethodKind::Compensation);
    at::Tensor nan = dW.clone();
    nan[3][4] = NAN;
    expectError([&] { rs::buildCompensationBasis(eora, nan, stats, 4, "bad.layer"); }, "NaN");
    rs::InputStats inf = stats;
    inf.gram = stats.gram.clone();
    inf.gram[2][2] = INFINITY;
    expectError([&] { rs::buildCompensationBasis(eora, dW, inf, 4, "bad.layer"); }, "Inf");
    expectError([&] { rs::analyzeLayer(dW, dW, inf, "bad.layer"); }, "Inf");
    expectError([&] { rs::buildCompensationBasis(eora, dW, stats, 17, "bad.layer"); },
                "rank 17 exceeds min(d_out, d_in) = 16");
    const rs::InputStats other = statsOf(calibrationInputs(50, 20, -1));
    expectError([&] { rs::buildCompensationBasis(eora, dW, other, 4, "bad.layer"); },
                "dimension 20");
    expectError([&] { rs::analyzeLayer(dW, dW, other, "bad.layer"); }, "dimension 20");
    expectError(
        [&] {
            rs::buildCompensationBasis(
                rs::MethodConfig::parse("none", rs::MethodKind::Compensation), dW, stats, 4,
                "bad.layer");
        },
        "none");
    expectError([&] { basisFor("svd", dW, stats, 4, "bad.layer")->factorsAt(5); }, "rank 5");
}

void TestCompensate::realStoriesLayer() {
    const rs::Checkpoint ckpt = rs::loadCheckpoint(rs::test::stories260K());
    const auto session = rs::test::openDemo();
    rs::InputStats attention, mlp;
    session->model().setLinearInputHook(
        [&](int64_t layer, rs::InputSite site, const at::Tensor& x) {
            if (layer == 1 && site == rs::InputSite::Attention)
                attention.accumulate(x);
            if (layer == 1 && site == rs::InputSite::Mlp)
                mlp.accumulate(x);
        });
    const int64_t chunk = 512;
    rs::test::forwardCalibrationText(*session, chunk);
    session->model().setLinearInputHook({});
    QVERIFY(attention.tokens >= 4 * chunk);
    for (const auto& [name, stats] : std::vector<std::pair<std::string, const rs::InputStats*>>{
             {"model.layers.1.self_attn.q_proj", &attention},
             {"model.layers.1.mlp.gate_proj", &mlp}}) {
        const at::Tensor w = ckpt.require(name + ".weight").to(at::kFloat);
        const at::Tensor dW = rtnError(w);
        const int64_t full = std::min(w.size(0), w.size(1));
        checkAgainstReference(dW, *stats, {0, 1, 8, 16, int(full)});
        const rs::LayerAnalysis a = rs::analyzeLayer(w, dW, *stats, name);
        QVERIFY(a.curves.eora[16] < a.curves.svd[16]);
        QVERIFY(a.curves.outputEnergy > a.curves.errorEnergy);
        QCOMPARE(a.spectra.weightSingular.size(), size_t(full));
        QCOMPARE(a.spectra.gramEigenvalues.size(), size_t(w.size(1)));
    }
}

QTEST_GUILESS_MAIN(TestCompensate)
#include "tst_compensate.moc"
