// The analysis views (spectra, heatmap, error curves) and figure export, on layer records of a
// real compression of stories260K converted exactly as the experiment store converts them.
#include "curveview.h"
#include "experimentloader.h"
#include "layermetricsview.h"
#include "legendswatch.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/session.h"
#include "plotexport.h"
#include "plotstyle.h"
#include "spectrumview.h"
#include "test_session.h"
#include "testdata.h"

#include <QApplication>
#include <QClipboard>
#include <QFile>
#include <QLabel>
#include <QMenu>
#include <QPainter>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>
#include <cmath>
#include <memory>
#include <qcustomplot.h>

using rs::ui::CurveView;
using rs::ui::PlotExport;
using rs::ui::SpectrumView;

namespace {

constexpr double kRelTol = 1e-12; // the views only divide and add stored float64 numbers
constexpr int kRank = 8;

bool near(double a, double b) {
    return std::abs(a - b) <= kRelTol * std::max({1.0, std::abs(a), std::abs(b)});
}

QByteArray readAll(const QString& path) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
}

} // namespace

class TestViews : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void spectraHoldEveryValue();
    void spectraOverlayAndMarkers();
    void markerLabelsNeverOverlap();
    void spreadApartKeepsOrderAndGap();
    void heatmapHasOneRowPerLayer();
    void curvesHoldEveryRank();
    void normalisationDividesByTheRightEnergy();
    void rankMarkerSitsAtTheChosenRank();
    void readoutFollowsTheMouse();
    void predictedTotalIsTheSumOfTheCurves();
    void curvesAreNamedForTheKindOfRun();
    void emptyStateWithoutAnExperiment();
    void everyPlotOffersExport();
    void exportWritesEveryFormat();
    void csvHasOneRowPerPoint();
    void unwritableExportNamesTheFile();
    void copyPutsAnImageOnTheClipboard();
    void rendersViewsToPng();
    void logAxesLabelAnyRange();
    void curvesOverlayEverySelectedLayer();
    void layerMetricsAcrossLayers();

private:
    int variantIndex(const std::string& compensation) const;

    std::vector<rs::LayerRecord> m_layers;
    std::vector<rs::VariantRecord> m_variants;
    QTemporaryDir m_dir;
};

void TestViews::initTestCase() {
    QVERIFY(m_dir.isValid());
    auto session = rs::test::openDemo();
    rs::CompressRequest request;
    request.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    request.inputs.calibTokens = 2048;
    request.compression =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    for (const char* comp : {"svd", "eora"})
        request.compensations.push_back(
            rs::MethodConfig::parse(comp, rs::MethodKind::Compensation));
    request.ranks = {kRank};
    request.heldoutTokens = 0;
    const rs::CompressResult result = rs::runCompression(*session, request);
    for (size_t v = 0; v < result.variants.size(); ++v)
        m_variants.push_back(rs::toVariantRecord(result.variants[v], int(v)));
    for (const rs::LayerReport& report : result.layers)
        m_layers.push_back(rs::toLayerRecord(report));
    QCOMPARE(m_layers.size(), size_t(35)); // 5 blocks x 7 linears
    QVERIFY(!m_layers.front().curveEora.empty());
    QVERIFY(variantIndex("eora") >= 0);
}

int TestViews::variantIndex(const std::string& compensation) const {
    for (const rs::VariantRecord& v : m_variants)
        if (v.compensation.substr(0, v.compensation.find(':')) == compensation)
            return v.index;
    return -1;
}

void TestViews::spectraHoldEveryValue() {
    SpectrumView view;
    view.setLayers(m_layers);
    for (int row : {0, 5, 34}) {
        view.setSelectedLayers({row});
        const rs::LayerRecord& layer = m_layers[size_t(row)];
        const auto shortSide = int(std::min(layer.outFeatures, layer.inFeatures));
        using S = SpectrumView::Spectrum;
        QCOMPARE(view.graph(row, S::Gram)->dataCount(), int(layer.inFeatures));
        QCOMPARE(view.graph(row, S::Weight)->dataCount(), shortSide);
        QCOMPARE(view.graph(row, S::Error)->dataCount(), shortSide);
        QCOMPARE(view.graph(row, S::ScaledError)->dataCount(), shortSide);
        QCOMPARE(view.spectrumPlot()->graphCount(), SpectrumView::kSpectrumCount);
        // Index 1 holds the largest value, unchanged.
        QCOMPARE(view.graph(row, S::Weight)->data()->at(0)->key, 1.0);
        QCOMPARE(view.graph(row, S::Weight)->data()->at(0)->value, layer.weightSingular.front());
        QCOMPARE(view.graph(row, S::Gram)->valueAxis(), view.spectrumPlot()->yAxis2);
        QCOMPARE(view.spectrumPlot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    }
    view.setSpectrumVisible(SpectrumView::Spectrum::Weight, false);
    QCOMPARE(view.spectrumPlot()->graphCount(), SpectrumView::kSpectrumCount - 1);
    QVERIFY(!view.graph(34, SpectrumView::Spectrum::Weight));
}

void TestViews::spectraOverlayAndMarkers() {
    SpectrumView view;
    view.setLayers(m_layers);
    view.setSelectedLayers({0, 3, 6, 99});
    QCOMPARE(view.selectedLayers(), QList<int>({0, 3, 6}));
    QCOMPARE(view.spectrumPlot()->graphCount(), 3 * SpectrumView::kSpectrumCount);
    // A compact legend: each layer once (colour), each quantity once (line style).
    QCPLegend* legend = view.spectrumPlot()->legend;
    QCOMPARE(legend->itemCount(), 3 + SpectrumView::kSpectrumCount);
    auto* first = qobject_cast<rs::ui::LegendSwatch*>(legend->item(0));
    QVERIFY(first);
    QCOMPARE(first->text(), rs::ui::plotstyle::layerLabel(m_layers[0]));
    auto* last = qobject_cast<rs::ui::LegendSwatch*>(legend->item(legend->itemCount() - 1));
    QVERIFY(last && last->text().endsWith(QStringLiteral("(right axis)")));
    // Back to one layer: the full entries again, no swatch left over.
    view.setSelectedLayers({0});
    QCOMPARE(legend->itemCount(), SpectrumView::kSpectrumCount);
    QVERIFY(!qobject_cast<rs::ui::LegendSwatch*>(legend->item(0)));
    view.setSelectedLayers({0, 3, 6});
    // Each layer: tolerance line + label, effective-rank line + label.
    QCOMPARE(view.spectrumPlot()->itemCount(), 3 * 4);
    for (const rs::LayerRecord& layer : m_layers) {
        const double tol = SpectrumView::tolerance(layer);
        QVERIFY(near(tol, layer.gramEigenvalues.front() * double(layer.inFeatures) *
                              double(std::numeric_limits<float>::epsilon())));
        const int64_t kept = SpectrumView::effectiveRank(layer);
        QVERIFY(kept >= 1 && kept <= layer.inFeatures);
        if (size_t(kept) < layer.gramEigenvalues.size())
            QVERIFY(layer.gramEigenvalues[size_t(kept)] <= tol);
        QVERIFY(layer.gramEigenvalues[size_t(kept - 1)] > tol);
    }
    // The effective-rank line of the first layer sits at its kept-mode count.
    bool found = false;
    for (int i = 0; i < view.spectrumPlot()->itemCount(); ++i)
        if (auto* line = qobject_cast<QCPItemStraightLine*>(view.spectrumPlot()->item(i)))
            found =
                found || (line->point1->key() == line->point2->key() &&
                          line->point1->key() == double(SpectrumView::effectiveRank(m_layers[0])));
    QVERIFY(found);
}

namespace {

// The pixel rectangle a plot label covers (its corners, turned with it).
QRectF labelRect(QCPItemText* label) {
    QPolygonF corners;
    for (QCPItemAnchor* a :
         {label->topLeft, label->topRight, label->bottomRight, label->bottomLeft})
        corners << a->pixelPosition();
    return corners.boundingRect();
}

bool anyOverlap(const QList<QCPItemText*>& labels) {
    for (int i = 0; i < labels.size(); ++i)
        for (int j = i + 1; j < labels.size(); ++j)
            if (labelRect(labels[i]).intersects(labelRect(labels[j])))
                return true;
    return false;
}

} // namespace

void TestViews::markerLabelsNeverOverlap() {
    SpectrumView view;
    view.resize(900, 600);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.setLayers(m_layers);
    // q, k and v of block 0 read the same input: the same tolerance and effective rank, so their
    // labels would sit on one another; gate and up of block 1 are close as well.
    view.setSelectedLayers({0, 1, 2, 11, 12});
    view.spectrumPlot()->replot();
    const QList<QCPItemText*> tolerances = view.toleranceLabels();
    const QList<QCPItemText*> ranks = view.rankLabels();
    QCOMPARE(tolerances.size(), 5);
    QCOMPARE(ranks.size(), 5);
    QVERIFY(!anyOverlap(tolerances));
    QVERIFY(!anyOverlap(ranks));
    const QRectF area = QRectF(view.spectrumPlot()->axisRect()->rect()).adjusted(-1, -1, 1, 1);
    for (QCPItemText* label : tolerances + ranks)
        QVERIFY2(area.contains(labelRect(label)), qPrintable(label->text()));
    // Smaller, they are placed again.
    const int height = view.spectrumPlot()->height();
    view.resize(700, 420);
    QTRY_VERIFY(view.spectrumPlot()->height() < height);
    view.spectrumPlot()->replot();
    QVERIFY(!anyOverlap(view.toleranceLabels()));
    QVERIFY(!anyOverlap(view.rankLabels()));
}

void TestViews::spreadApartKeepsOrderAndGap() {
    using rs::ui::plotstyle::spreadApart;
    // Apart already: unchanged.
    QCOMPARE(spreadApart({10, 50, 30}, 10, 0, 100), (std::vector<double>{10, 50, 30}));
    // Two on one spot and one near: moved apart, order kept, within the range.
    const std::vector<double> moved = spreadApart({40, 40, 45}, 10, 0, 100);
    QCOMPARE(moved, (std::vector<double>{40, 50, 60}));
    // Against the top of the range: pushed back down.
    QCOMPARE(spreadApart({95, 99}, 10, 0, 100), (std::vector<double>{90, 100}));
    // More than fit: spread evenly.
    QCOMPARE(spreadApart({5, 5, 5}, 10, 0, 10), (std::vector<double>{0, 5, 10}));
    QVERIFY(spreadApart({}, 10, 0, 10).empty());
}

void TestViews::heatmapHasOneRowPerLayer() {
    SpectrumView view;
    view.setLayers(m_layers);
    using S = SpectrumView::Spectrum;
    for (S spectrum : {S::ScaledError, S::Gram, S::Weight, S::Error}) {
        view.setHeatmapSpectrum(spectrum);
        size_t longest = 0;
        for (const rs::LayerRecord& layer : m_layers)
            longest = std::max(longest, rs::ui::spectrumValues(layer, spectrum).size());
        QCPColorMapData* data = view.heatmap()->data();
        QCOMPARE(data->valueSize(), int(m_layers.size()));
        QCOMPARE(data->keySize(), int(longest));
        // Row 0 is layer 0 divided by its largest value; cells past a short row stay empty.
        const std::vector<double>& v = rs::ui::spectrumValues(m_layers[0], spectrum);
        QCOMPARE(data->cell(0, 0), 1.0);
        QVERIFY(near(data->cell(1, 0), std::max(v[1] / v[0], 1e-12)));
        if (v.size() < longest)
            QVERIFY(std::isnan(data->cell(int(longest) - 1, 0)));
    }
    // One analysed layer (the others analysed on demand later) is one row of visible height.
    std::vector<rs::LayerRecord> one = m_layers;
    for (size_t i = 1; i < one.size(); ++i)
        one[i].scaledErrorSingular.clear();
    view.setLayers(one);
    view.setHeatmapSpectrum(S::ScaledError);
    QCOMPARE(view.heatmap()->data()->valueSize(), 1);
    QCOMPARE(view.heatmap()->data()->valueRange().size(), 1.0);
}

void TestViews::curvesHoldEveryRank() {
    CurveView view;
    view.setLayers(m_layers);
    for (int row : {0, 6, 34}) {
        view.setSelectedLayers({row});
        QCOMPARE(view.currentLayer(), row);
        const rs::LayerRecord& layer = m_layers[size_t(row)];
        const int points = int(std::min(layer.outFeatures, layer.inFeatures)) + 1;
        QCOMPARE(view.svdGraph()->dataCount(), points);
        QCOMPARE(view.eoraGraph()->dataCount(), points);
        QCOMPARE(view.svdGraph()->data()->at(0)->value, 1.0); // E(0) = tr(dW C dW^T)
        QCOMPARE(view.eoraGraph()->data()->at(0)->value, 1.0);
        // The shaded band is the SVD curve filled down to the EoRA curve.
        QCOMPARE(view.svdGraph()->channelFillGraph(), view.eoraGraph());
    }
}

void TestViews::normalisationDividesByTheRightEnergy() {
    CurveView view;
    view.setLayers(m_layers);
    view.setSelectedLayers({3});
    const rs::LayerRecord& layer = m_layers[3];
    QCOMPARE(view.normalization(), CurveView::Normalization::ErrorLeft);
    const double left = view.eoraGraph()->data()->at(kRank)->value;
    QVERIFY(near(left, layer.curveEora[kRank] / layer.errorEnergy));
    view.setNormalization(CurveView::Normalization::RelativeOutput);
    const double relative = view.eoraGraph()->data()->at(kRank)->value;
    QVERIFY(near(relative, layer.curveEora[kRank] / layer.outputEnergy));
    QVERIFY(near(relative / left, layer.errorEnergy / layer.outputEnergy));
    QVERIFY(view.plot()->yAxis->label().contains(QStringLiteral("tr(W C W")));
    QVERIFY(near(view.svdGraph()->data()->at(0)->value, layer.errorEnergy / layer.outputEnergy));
}

void TestViews::rankMarkerSitsAtTheChosenRank() {
    CurveView view;
    view.setLayers(m_layers);
    QVERIFY(!view.rankLine()->visible());
    const rs::VariantRecord& eora = m_variants[size_t(variantIndex("eora"))];
    view.setVariant(eora);
    QVERIFY(view.rankLine()->visible());
    QCOMPARE(view.rankLine()->point1->key(), double(kRank));
    QCOMPARE(view.rankLine()->point2->key(), double(kRank));
    QVERIFY(view.readoutLabel()->text().contains(QStringLiteral("r = 8")));
    std::vector<int64_t> ranks(m_layers.size(), 3);
    view.setRanks(ranks);
    QCOMPARE(view.rankLine()->point1->key(), 3.0);
    QVERIFY(view.readout(3).contains(QStringLiteral("gap")));
    QVERIFY(view.readout(-1).isEmpty());
}

void TestViews::readoutFollowsTheMouse() {
    CurveView view;
    view.resize(800, 500);
    view.setLayers(m_layers);
    view.setVariant(m_variants[size_t(variantIndex("eora"))]);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    view.plot()->replot();
    QCustomPlot* plot = view.plot();
    const QPoint at(int(plot->xAxis->coordToPixel(12)), plot->height() / 2);
    QTest::mouseMove(plot, at);
    QTRY_VERIFY(view.readoutLabel()->text().startsWith(QStringLiteral("r = 12:")));
    QCOMPARE(view.readoutLabel()->text(), view.readout(12).toHtmlEscaped());
}

void TestViews::curvesAreNamedForTheKindOfRun() {
    CurveView view;
    view.setLayers(m_layers);
    view.setVariant(m_variants[size_t(variantIndex("eora"))]);
    QCOMPARE(view.pair(), CurveView::Pair::Compensation);
    QVERIFY(view.eoraGraph()->name().contains(QStringLiteral("EoRA")));
    QVERIFY(view.svdGraph()->name().contains(QStringLiteral("plain SVD")));
    QVERIFY(view.readout(4).contains(QStringLiteral("EoRA")));
    QVERIFY(view.totalLabel()->text().contains(QStringLiteral("compression error left")));
    // A LoRD/Lillama run: the same columns hold weight SVD and the data-aware optimum, and the
    // two normalisations coincide (dW = W), so the total names one.
    view.setPair(CurveView::Pair::LowRank);
    QVERIFY(view.eoraGraph()->name().contains(QStringLiteral("data-aware")));
    QVERIFY(view.svdGraph()->name().contains(QStringLiteral("weight SVD")));
    QVERIFY(!view.readout(4).contains(QStringLiteral("EoRA")));
    QVERIFY(view.readout(4).contains(QStringLiteral("data-aware")));
    QVERIFY(!view.totalLabel()->text().contains(QStringLiteral("compression error left")));
    QCOMPARE(view.plot()->xAxis->label(), QStringLiteral("rank r of the factors"));
    QCOMPARE(view.normalization(), CurveView::Normalization::RelativeOutput);
    view.setPair(CurveView::Pair::Compensation); // the next compression experiment
    QCOMPARE(view.normalization(), CurveView::Normalization::ErrorLeft);
}

void TestViews::predictedTotalIsTheSumOfTheCurves() {
    std::vector<int64_t> ranks;
    double svd = 0, eora = 0, errorEnergy = 0, outputEnergy = 0;
    for (size_t i = 0; i < m_layers.size(); ++i) {
        ranks.push_back(int64_t(i % 9));
        svd += m_layers[i].curveSvd[i % 9];
        eora += m_layers[i].curveEora[i % 9];
        errorEnergy += m_layers[i].errorEnergy;
        outputEnergy += m_layers[i].outputEnergy;
    }
    CurveView view;
    view.setLayers(m_layers);
    view.setRanks(ranks, QStringLiteral("test plan"));
    const CurveView::Total total = view.total();
    QCOMPARE(total.layers, int(m_layers.size()));
    QVERIFY(near(total.svd, svd));
    QVERIFY(near(total.eora, eora));
    QVERIFY(near(total.normalized(total.eora, CurveView::Normalization::ErrorLeft),
                 eora / errorEnergy));
    QVERIFY(near(total.normalized(total.svd, CurveView::Normalization::RelativeOutput),
                 svd / outputEnergy));
    QVERIFY(total.eora <= total.svd);
    QVERIFY(view.totalLabel()->text().contains(QStringLiteral("test plan")));
    // The stored variant's ranks predict what that variant's layers report after compensation.
    view.setVariant(m_variants[size_t(variantIndex("eora"))]);
    const auto v = size_t(variantIndex("eora"));
    double after = 0;
    for (const rs::LayerRecord& layer : m_layers)
        after += layer.errorAfter[v] * layer.outputEnergy;
    QVERIFY(std::abs(view.total().eora - after) <= 1e-3 * view.total().errorEnergy);
}

void TestViews::emptyStateWithoutAnExperiment() {
    SpectrumView spectra;
    CurveView curves;
    for (QWidget* view : {static_cast<QWidget*>(&spectra), static_cast<QWidget*>(&curves)}) {
        auto* stack = view->findChild<QStackedWidget*>();
        QVERIFY(stack);
        QCOMPARE(stack->currentWidget()->objectName(), QStringLiteral("emptyState"));
    }
    curves.setLayers(m_layers);
    QVERIFY(curves.findChild<QStackedWidget*>()->currentIndex() == 1);
    curves.clear();
    QCOMPARE(curves.findChild<QStackedWidget*>()->currentIndex(), 0);
    QCOMPARE(curves.svdGraph()->dataCount(), 0);

    // A run without analysis says so instead of claiming nothing is loaded.
    std::vector<rs::LayerRecord> bare = m_layers;
    for (rs::LayerRecord& layer : bare) {
        layer.curveSvd.clear();
        layer.curveEora.clear();
        layer.gramEigenvalues.clear();
        layer.weightSingular.clear();
        layer.errorSingular.clear();
        layer.scaledErrorSingular.clear();
    }
    spectra.setLayers(bare);
    curves.setLayers(bare);
    for (QWidget* view : {static_cast<QWidget*>(&spectra), static_cast<QWidget*>(&curves)}) {
        QCOMPARE(view->findChild<QStackedWidget*>()->currentIndex(), 0);
        const auto* label = view->findChild<QLabel*>(QStringLiteral("emptyState"));
        QVERIFY(label->text().contains(QStringLiteral("No layer analysis")));
    }
}

void TestViews::everyPlotOffersExport() {
    SpectrumView spectra;
    CurveView curves;
    for (QCustomPlot* plot : {spectra.spectrumPlot(), spectra.heatmapPlot(), curves.plot()}) {
        QCOMPARE(plot->contextMenuPolicy(), Qt::CustomContextMenu);
        std::unique_ptr<QMenu> menu(PlotExport::createMenu(plot, QStringLiteral("x"), nullptr));
        QStringList texts;
        for (const QAction* action : menu->actions())
            if (!action->isSeparator())
                texts << action->text();
        QCOMPARE(texts.size(), 5); // PNG, SVG, PDF, CSV, copy
    }
    QCOMPARE(spectra.findChildren<QToolButton*>().size(), 2);
    QCOMPARE(curves.findChildren<QToolButton*>().size(), 1);
}

void TestViews::exportWritesEveryFormat() {
    CurveView view;
    view.resize(800, 500);
    view.setLayers(m_layers);
    const QString base = m_dir.filePath(QStringLiteral("curves"));
    for (const char* suffix : {"png", "svg", "pdf", "csv"}) {
        const QString path = base + QLatin1Char('.') + QLatin1String(suffix);
        const auto format = PlotExport::formatForPath(path);
        QVERIFY(format);
        QCOMPARE(PlotExport::save(view.plot(), path, *format, 800, 500), QString());
    }
    QVERIFY(readAll(base + QStringLiteral(".png")).startsWith("\x89PNG\r\n\x1a\n"));
    const QByteArray svg = readAll(base + QStringLiteral(".svg"));
    QVERIFY(svg.contains("<svg"));
    QVERIFY(svg.trimmed().endsWith("</svg>"));
    QSvgRenderer renderer(svg);
    QVERIFY(renderer.isValid());
    QCOMPARE(renderer.viewBox(), QRect(0, 0, 800, 500));
    if (qEnvironmentVariableIsSet("RANKSCOPE_VIEW_PNG_DIR")) { // the SVG as Qt reads it back
        QImage image(800, 500, QImage::Format_ARGB32);
        image.fill(Qt::white);
        QPainter painter(&image);
        renderer.render(&painter);
        image.save(QDir(qEnvironmentVariable("RANKSCOPE_VIEW_PNG_DIR"))
                       .filePath(QStringLiteral("curves-export-svg.png")));
    }
    QVERIFY(readAll(base + QStringLiteral(".pdf")).startsWith("%PDF-"));
    QVERIFY(readAll(base + QStringLiteral(".pdf")).trimmed().endsWith("%%EOF"));
    QVERIFY(readAll(base + QStringLiteral(".pdf")).contains("/MediaBox [0 0 800"));
    QVERIFY(!PlotExport::formatForPath(base + QStringLiteral(".txt")));
    QVERIFY(PlotExport::save(view.plot(), base + QStringLiteral(".txt"))
                .contains(QStringLiteral("curves.txt")));
}

void TestViews::csvHasOneRowPerPoint() {
    CurveView curves;
    curves.setLayers(m_layers);
    const rs::LayerRecord& layer = m_layers[0];
    const QStringList rows = PlotExport::toCsv(curves.plot()).trimmed().split(QLatin1Char('\n'));
    QCOMPARE(rows.size(), int(layer.curveSvd.size()) + 1);
    QVERIFY(rows[0].startsWith(QStringLiteral("rank r")));
    QVERIFY(rows[0].contains(QStringLiteral("E_svd(r)")));
    QVERIFY(rows[0].contains(QStringLiteral("fraction of compression error left")));
    const QStringList first = rows[1].split(QLatin1Char(','));
    QCOMPARE(first.size(), 3);
    QCOMPARE(first[0].toDouble(), 0.0);

    SpectrumView spectra;
    spectra.setLayers(m_layers);
    spectra.setSelectedLayers({0, 6}); // q_proj and down_proj: different input widths
    size_t longest = 0;
    for (int row : {0, 6})
        longest = std::max(longest, m_layers[size_t(row)].gramEigenvalues.size());
    const QStringList spectrumRows =
        PlotExport::toCsv(spectra.spectrumPlot()).trimmed().split(QLatin1Char('\n'));
    QCOMPARE(spectrumRows.size(), int(longest) + 1);
    QCOMPARE(spectrumRows[0].split(QLatin1Char(',')).size(), 1 + 2 * SpectrumView::kSpectrumCount);

    const QStringList heatRows =
        PlotExport::toCsv(spectra.heatmapPlot()).trimmed().split(QLatin1Char('\n'));
    QCOMPARE(heatRows.size(), int(m_layers.size()) + 1);
    QCOMPARE(heatRows[0].split(QLatin1Char(',')).size(), spectra.heatmap()->data()->keySize() + 1);
    QVERIFY(heatRows[1].startsWith(QString::fromStdString(m_layers[0].name) + QLatin1Char(',')));
}

void TestViews::unwritableExportNamesTheFile() {
    CurveView view;
    view.setLayers(m_layers);
    const QString path = m_dir.filePath(QStringLiteral("missing/dir/figure.png"));
    const QString error = PlotExport::save(view.plot(), path);
    QVERIFY2(error.contains(path), qPrintable(error));
    QVERIFY(!QFile::exists(path));
}

void TestViews::copyPutsAnImageOnTheClipboard() {
    CurveView view;
    view.resize(640, 400);
    view.setLayers(m_layers);
    PlotExport::copyToClipboard(view.plot());
    QVERIFY(!QApplication::clipboard()->image().isNull());
}

void TestViews::rendersViewsToPng() {
    SpectrumView spectra;
    spectra.setLayers(m_layers);
    spectra.setSelectedLayers({0, 5});
    CurveView curves;
    curves.setLayers(m_layers);
    curves.setVariant(m_variants[size_t(variantIndex("eora"))]);
    // RANKSCOPE_VIEW_PNG_DIR keeps the renders for review; a temporary directory otherwise.
    const QString dir = qEnvironmentVariableIsSet("RANKSCOPE_VIEW_PNG_DIR")
                            ? qEnvironmentVariable("RANKSCOPE_VIEW_PNG_DIR")
                            : m_dir.path();
    QStringList failures;
    const auto render = [&dir, &failures](QWidget* view, const char* name) {
        const QString path = QDir(dir).filePath(QLatin1String(name));
        const QString error = PlotExport::renderWidget(view, path, QSize(1000, 760));
        if (!error.isEmpty() || QImage(path).size() != QSize(1000, 760))
            failures << path + QLatin1Char(' ') + error;
    };
    render(&spectra, "spectrumview-overlay.png");
    spectra.setSelectedLayers({6});
    spectra.setHeatmapSpectrum(SpectrumView::Spectrum::Gram);
    render(&spectra, "spectrumview-single.png");
    render(&curves, "curveview.png");
    curves.setSelectedLayers({6});
    curves.setNormalization(CurveView::Normalization::RelativeOutput);
    curves.setLogScale(true);
    render(&curves, "curveview-log-relative.png");
    CurveView empty;
    render(&empty, "curveview-empty.png");
    QVERIFY2(failures.isEmpty(), qPrintable(failures.join(QLatin1Char('\n'))));
}

// Log axes carry several labelled ticks over any range: powers of ten over decades, plain numbers
// under one.
void TestViews::logAxesLabelAnyRange() {
    QCustomPlot plot;
    plot.resize(400, 300);
    rs::ui::plotstyle::makeLogAxis(plot.yAxis);
    plot.yAxis->setRange(20, 60);
    plot.replot();
    const QVector<double> ticks = plot.yAxis->tickVector();
    int inside = 0;
    for (const double t : ticks)
        inside += plot.yAxis->range().contains(t) ? 1 : 0;
    QVERIFY2(inside >= 3, qPrintable(QString::number(inside)));
    QVERIFY(plot.yAxis->tickVectorLabels().contains(QStringLiteral("30")));
    plot.yAxis->setRange(1e-3, 10);
    plot.replot();
    QVERIFY(plot.yAxis->tickVector().contains(0.01));
    QVERIFY(plot.yAxis->tickVector().contains(1.0));
}

// Several layers selected: all their curves show (the first one's with band and readout), and
// the ranks the experiment ran are marked on the rank axis.
void TestViews::curvesOverlayEverySelectedLayer() {
    CurveView view;
    view.setLayers(m_layers);
    view.setSelectedLayers({0, 3, 6});
    QCOMPARE(view.currentLayer(), 0);
    QCOMPARE(view.overlaidLayers(), QList<int>({3, 6}));
    QCOMPARE(view.plot()->graphCount(), 2 + 2 * 2);
    const QCPGraph* third = view.plot()->graph(view.plot()->graphCount() - 2);
    QCOMPARE(third->dataCount(), int(m_layers[6].curveEora.size()));
    QVERIFY(third->name().startsWith(rs::ui::plotstyle::layerLabel(m_layers[6])));
    for (size_t r = 0; r < m_layers[6].curveEora.size(); ++r)
        QVERIFY(view.plot()->xAxis->range().contains(double(r)));
    const int items = view.plot()->itemCount();
    view.setRunRanks({4, 8, 16});
    QCOMPARE(view.plot()->itemCount(), items + 3 * 2); // a tick and a number each
    // Back to one layer: the overlay goes, the run marks stay.
    view.setSelectedLayers({3});
    QCOMPARE(view.plot()->graphCount(), 2);
    QVERIFY(view.overlaidLayers().isEmpty());
    QCOMPARE(view.plot()->itemCount(), items + 3 * 2);
    // The readout keeps its height whatever it says.
    const int height = view.readoutLabel()->height();
    view.readoutLabel()->setText(QString(400, QLatin1Char('x')));
    QCOMPARE(view.readoutLabel()->height(), height);
}

// Alpha and stable rank of every layer's weight, as the core computes them from the stored
// spectrum, one point and one bar per layer in model order; hovering names the layer.
void TestViews::layerMetricsAcrossLayers() {
    rs::ui::LayerMetricsView view;
    view.resize(1400, 500);
    view.setLayers(m_layers, rs::ui::weightMetricsOf(m_layers));
    QCOMPARE(view.layers().size(), m_layers.size());
    QCOMPARE(view.alphaGraph()->dataCount(), int(m_layers.size()));
    QCOMPARE(view.stableRankBars()->dataCount(), int(m_layers.size()));
    for (size_t i = 0; i < m_layers.size(); ++i) {
        const rs::SpectralMetrics expected = rs::spectralMetrics(m_layers[i].weightSingular);
        QCOMPARE(view.alphaGraph()->data()->at(int(i))->value, expected.alpha);
        QCOMPARE(view.stableRankBars()->data()->at(int(i))->value, expected.stableRank);
    }
    QVERIFY(view.describe(3.1).startsWith(QString::fromStdString(m_layers[3].name) +
                                          QLatin1Char('\n')));
    QVERIFY(view.describe(3.5).isEmpty());
    // A run without analysis has no weight spectra: nothing is drawn, and the page says why.
    std::vector<rs::LayerRecord> bare = m_layers;
    for (rs::LayerRecord& layer : bare)
        layer.weightSingular.clear();
    view.setLayers(bare, rs::ui::weightMetricsOf(bare));
    QVERIFY(view.layers().empty());
    QCOMPARE(view.alphaGraph()->dataCount(), 0);
}

QTEST_MAIN(TestViews)
#include "tst_views.moc"
