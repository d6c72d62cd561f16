// WeightWatcher-style spectral metrics: the power-law exponent recovered from exact power-law
// spectra, stable rank and spectral norm against float64 references on stories260K's weights,
// and refusal of invalid spectra.
#include "compensate/spectral_metrics.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "spectral_reference.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTest>
#include <cmath>

namespace {

// The fitted exponent of an exact power-law sample is within this of the true one.
constexpr double kAlphaTolerance = 0.05;
// Stable rank and norm from stored singular values against float64 sums of the weight.
constexpr double kRelativeTolerance = 1e-9;

// n eigenvalues at the quantiles of p(lambda) ~ lambda^-alpha above 1, as singular values.
std::vector<double> powerLawSpectrum(double alpha, int n) {
    std::vector<double> singular;
    for (int i = 0; i < n; ++i) {
        const double u = (double(i) + 0.5) / double(n);
        singular.push_back(std::sqrt(std::pow(u, -1.0 / (alpha - 1.0))));
    }
    std::sort(singular.begin(), singular.end(), std::greater<>());
    return singular;
}

// The coarse cutoff search against the exhaustive one: KS distance and exponent within these.
constexpr double kCoarseKsTolerance = 0.001;
constexpr double kCoarseAlphaTolerance = 0.1;

} // namespace

class TestSpectralMetrics : public QObject {
    Q_OBJECT

private slots:
    void recoversThePowerLawExponent();
    void stableRankAndNormOfRealWeights();
    void coarseCutoffsMatchTheExhaustiveSearch();
    void degenerateSpectra();
};

void TestSpectralMetrics::recoversThePowerLawExponent() {
    for (const double alpha : {2.0, 3.0, 4.5}) {
        const rs::SpectralMetrics m = rs::spectralMetrics(powerLawSpectrum(alpha, 2000));
        QVERIFY2(std::abs(m.alpha - alpha) < kAlphaTolerance,
                 qPrintable(QStringLiteral("alpha %1 fitted as %2").arg(alpha).arg(m.alpha)));
        QVERIFY(m.tailSize >= rs::kMinTail);
        QVERIFY(m.ksDistance < 0.05);
    }
}

void TestSpectralMetrics::coarseCutoffsMatchTheExhaustiveSearch() {
    // A heavy tail (power law, alpha 3) above a flat bulk, as in a trained layer: 3,000 values,
    // well past the tail sizes the search tries one by one.
    std::vector<double> singular = powerLawSpectrum(3.0, 400);
    for (double& s : singular)
        s *= 2.0;
    for (int i = 0; i < 2600; ++i)
        singular.push_back(std::sqrt(0.05 + 0.95 * (double(i) + 0.5) / 2600.0));
    std::sort(singular.begin(), singular.end(), std::greater<>());
    const rs::SpectralMetrics m = rs::spectralMetrics(singular);
    const auto [alpha, distance] = rs::test::exhaustivePowerLawFit(singular);
    QVERIFY2(m.ksDistance <= distance + kCoarseKsTolerance,
             qPrintable(QStringLiteral("KS %1 against %2").arg(m.ksDistance).arg(distance)));
    QVERIFY2(std::abs(m.alpha - alpha) < kCoarseAlphaTolerance,
             qPrintable(QStringLiteral("alpha %1 against %2").arg(m.alpha).arg(alpha)));
}

void TestSpectralMetrics::stableRankAndNormOfRealWeights() {
    const auto session = rs::test::openDemo();
    for (const rs::LinearKind kind : rs::kAllLinearKinds) {
        const at::Tensor w =
            session->checkpoint().require(rs::linearName(2, kind) + ".weight").to(at::kDouble);
        const at::Tensor s = at::linalg_svdvals(w);
        const std::vector<double> singular(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
        const rs::SpectralMetrics m = rs::spectralMetrics(singular);
        const double norm = at::linalg_matrix_norm(w, 2).item<double>();
        const double frobenius2 = w.square().sum().item<double>();
        QVERIFY(std::abs(m.spectralNorm - norm) <= kRelativeTolerance * norm);
        const double stable = frobenius2 / (norm * norm);
        QVERIFY(std::abs(m.stableRank - stable) <= kRelativeTolerance * stable);
        QVERIFY(m.stableRank >= 1.0 && m.stableRank <= double(singular.size()));
        // A trained layer's tail is heavy, but not as heavy as alpha < 1.
        QVERIFY2(m.alpha > 1.0 && m.alpha < 20.0, qPrintable(QString::number(m.alpha)));
    }
}

void TestSpectralMetrics::degenerateSpectra() {
    const rs::SpectralMetrics empty = rs::spectralMetrics({});
    QCOMPARE(empty.spectralNorm, 0.0);
    QCOMPARE(empty.alpha, 0.0);
    const rs::SpectralMetrics shortOne = rs::spectralMetrics({2.0, 1.0, 1.0});
    QCOMPARE(shortOne.spectralNorm, 2.0);
    QCOMPARE(shortOne.stableRank, 1.5); // (4 + 1 + 1) / 4
    QCOMPARE(shortOne.alpha, 0.0);      // too short to fit a tail
    try {
        rs::spectralMetrics({3.0, std::nan(""), 1.0});
        QFAIL("a NaN singular value was accepted");
    } catch (const rs::Error& e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("singular value 1")),
                 e.what());
    }
    // A flat spectrum (an orthogonal-like weight) has no power-law tail to fit.
    const rs::SpectralMetrics flat = rs::spectralMetrics(std::vector<double>(600, 0.7));
    QCOMPARE(flat.alpha, 0.0);
    QCOMPARE(flat.stableRank, 600.0);
}

QTEST_APPLESS_MAIN(TestSpectralMetrics)
#include "tst_spectral_metrics.moc"
