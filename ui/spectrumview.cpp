#include "spectrumview.h"

#include "legendswatch.h"
#include "plotexport.h"
#include "plotstyle.h"
#include "spectrumheatmap.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

constexpr int kSpectra = SpectrumView::kSpectrumCount;

bool analysed(const rs::LayerRecord& layer) {
    return !layer.scaledErrorSingular.empty() || !layer.gramEigenvalues.empty();
}

// Pen style per spectrum, so that overlaid layers (told apart by colour) stay readable.
Qt::PenStyle penStyle(SpectrumView::Spectrum spectrum) {
    switch (spectrum) {
    case SpectrumView::Spectrum::ScaledError:
        return Qt::SolidLine;
    case SpectrumView::Spectrum::Error:
        return Qt::DashLine;
    case SpectrumView::Spectrum::Weight:
        return Qt::DotLine;
    case SpectrumView::Spectrum::Gram:
        return Qt::DashDotLine;
    }
    return Qt::SolidLine;
}

} // namespace

SpectrumView::SpectrumView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot)
    , m_heatmap(new SpectrumHeatmap) {
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Show:")));
    const QString tips[kSpectra] = {
        tr("Singular values of dW·S, the compression error weighted by the calibration inputs "
           "(S Sᵀ = C): EoRA keeps the largest r of them"),
        tr("Singular values of the compression error dW = W − W_c: plain SVD keeps the largest r"),
        tr("Singular values of the original weight W"),
        tr("Eigenvalues of the input Gram matrix C = XᵀX (right axis); modes below the EoRA "
           "tolerance are discarded")};
    for (int i = 0; i < kSpectra; ++i) {
        m_show[i] = new QCheckBox(spectrumName(Spectrum(i)), this);
        m_show[i]->setToolTip(tips[i]);
        m_show[i]->setChecked(true);
        connect(m_show[i], &QCheckBox::toggled, this, &SpectrumView::rebuildSpectra);
        bar->addWidget(m_show[i]);
    }
    bar->addStretch(1);
    bar->addWidget(PlotExport::createButton(m_plot, QStringLiteral("spectra"), this));

    setupSpectrumPlot();
    // The window's layer selection decides what every view shows: the row goes there first and
    // comes back through setSelectedLayers().
    connect(m_heatmap, &SpectrumHeatmap::layerActivated, this, &SpectrumView::layerActivated);

    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addLayout(bar);
    topLayout->addWidget(m_plot, 1);
    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(top);
    splitter->addWidget(m_heatmap);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);

    m_stack = plotstyle::emptyStateStack(splitter, this);
    connect(plotstyle::emptyLabel(m_stack), &QLabel::linkActivated, this,
            &SpectrumView::analysisRequested);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    updateEmptyState();
}

void SpectrumView::setupSpectrumPlot() {
    m_plot->setObjectName(QStringLiteral("spectrumPlot"));
    plotstyle::apply(m_plot);
    m_plot->xAxis->setLabel(tr("index i (descending order)"));
    m_plot->yAxis->setLabel(tr("singular value σ_i"));
    m_plot->yAxis2->setLabel(tr("eigenvalue λ_i of C (Σ x² over calibration tokens)"));
    m_plot->yAxis2->setVisible(true);
    plotstyle::makeLogAxis(m_plot->yAxis);
    plotstyle::makeLogAxis(m_plot->yAxis2);
    m_plot->axisRect()->setRangeZoomAxes({m_plot->xAxis, m_plot->yAxis, m_plot->yAxis2});
    m_plot->axisRect()->setRangeDragAxes({m_plot->xAxis, m_plot->yAxis, m_plot->yAxis2});
    m_plot->legend->setVisible(true);
    // Spectra fall from the top left, so the bottom left stays free for the legend.
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignLeft);
    m_title = plotstyle::addTitle(m_plot);
    m_plot->setMinimumHeight(220);
    PlotExport::attachContextMenu(m_plot, QStringLiteral("spectra"));
    connect(m_plot, &QCustomPlot::mouseMove, this, &SpectrumView::spectrumHover);
    connect(m_plot, &QCustomPlot::afterLayout, this, &SpectrumView::placeMarkerLabels);
}

double SpectrumView::tolerance(const rs::LayerRecord& layer) {
    if (layer.gramEigenvalues.empty())
        return 0.0;
    const double largest = std::max(layer.gramEigenvalues.front(), 0.0);
    return largest * double(std::max<int64_t>(1, layer.inFeatures)) *
           double(std::numeric_limits<float>::epsilon());
}

int64_t SpectrumView::effectiveRank(const rs::LayerRecord& layer) {
    const double tol = tolerance(layer);
    return std::count_if(layer.gramEigenvalues.begin(), layer.gramEigenvalues.end(),
                         [tol](double l) { return l > tol; });
}

void SpectrumView::setLayers(std::vector<rs::LayerRecord> layers) {
    m_layers = std::move(layers);
    m_selected.clear();
    const auto first = std::find_if(m_layers.begin(), m_layers.end(), analysed);
    if (first != m_layers.end())
        m_selected = {int(first - m_layers.begin())};
    updateEmptyState();
    m_heatmap->setLayers(&m_layers);
    m_heatmap->setSelected(m_selected);
    rebuildSpectra();
}

// Tells an empty window apart from an experiment that was run without layer analysis.
void SpectrumView::updateEmptyState() {
    if (std::any_of(m_layers.begin(), m_layers.end(), analysed))
        plotstyle::showContent(m_stack);
    else if (m_layers.empty())
        plotstyle::showEmpty(m_stack, tr("No experiment loaded"),
                             tr("Run a compression with analysis, or open an experiment, to see "
                                "the spectra of its layers."));
    else
        plotstyle::showEmpty(m_stack, tr("No layer analysis stored"),
                             tr("This experiment was run without layer analysis. The layers "
                                "selected in the layer table (all when none is) can be analysed "
                                "now from its saved calibration statistics."),
                             tr("Analyse the selected layers"));
}

void SpectrumView::clear() {
    setLayers({});
}

void SpectrumView::setSelectedLayers(const QList<int>& rows) {
    m_selected.clear();
    for (int row : rows)
        if (row >= 0 && size_t(row) < m_layers.size() && !m_selected.contains(row))
            m_selected.append(row);
    rebuildSpectra();
    m_heatmap->setSelected(m_selected);
}

void SpectrumView::setSpectrumVisible(Spectrum spectrum, bool visible) {
    m_show[int(spectrum)]->setChecked(visible); // rebuilds through toggled()
}

bool SpectrumView::isSpectrumVisible(Spectrum spectrum) const {
    return m_show[int(spectrum)]->isChecked();
}

void SpectrumView::setHeatmapSpectrum(Spectrum spectrum) {
    m_heatmap->setSpectrum(spectrum);
}

SpectrumView::Spectrum SpectrumView::heatmapSpectrum() const {
    return m_heatmap->spectrum();
}

QCustomPlot* SpectrumView::heatmapPlot() const {
    return m_heatmap->plot();
}

QCPColorMap* SpectrumView::heatmap() const {
    return m_heatmap->map();
}

QCPGraph* SpectrumView::graph(int row, Spectrum spectrum) const {
    for (const Shown& shown : m_shown)
        if (shown.row == row && shown.spectrum == spectrum)
            return shown.graph;
    return nullptr;
}

void SpectrumView::rebuildSpectra() {
    m_plot->clearGraphs();
    m_plot->clearItems();
    m_plot->legend->clearItems(); // the swatches of an earlier overlay
    m_shown.clear();
    m_toleranceLabels.clear();
    m_rankLabels.clear();
    const bool overlay = m_selected.size() > 1;
    bool anyGram = false;
    for (int s = 0; s < m_selected.size(); ++s) {
        const int row = m_selected[s];
        const rs::LayerRecord& layer = m_layers[size_t(row)];
        for (int k = 0; k < kSpectra; ++k) {
            const auto spectrum = Spectrum(k);
            const std::vector<double>& v = spectrumValues(layer, spectrum);
            if (!m_show[k]->isChecked() || v.empty())
                continue;
            const bool gram = spectrum == Spectrum::Gram;
            anyGram = anyGram || gram;
            QCPGraph* g = m_plot->addGraph(m_plot->xAxis, gram ? m_plot->yAxis2 : m_plot->yAxis);
            QVector<double> keys(qsizetype(v.size()));
            QVector<double> vals(qsizetype(v.size()));
            for (size_t i = 0; i < v.size(); ++i) {
                keys[qsizetype(i)] = double(i + 1);
                // A log axis cannot show zeros (rank-deficient C): NaN leaves a gap instead.
                vals[qsizetype(i)] = v[i] > 0 ? v[i] : std::nan("");
            }
            g->setData(keys, vals, true);
            const QColor color = plotstyle::seriesColor(overlay ? s : k);
            g->setPen(QPen(color, 1.8, overlay ? penStyle(spectrum) : Qt::SolidLine));
            g->setName(overlay
                           ? tr("%1 · %2").arg(plotstyle::layerLabel(layer), spectrumName(spectrum))
                           : spectrumName(spectrum));
            m_shown.push_back({row, spectrum, g});
        }
        if (m_show[int(Spectrum::Gram)]->isChecked() && !layer.gramEigenvalues.empty())
            addMarkers(row, plotstyle::seriesColor(overlay ? s : int(Spectrum::Gram)));
    }
    m_plot->yAxis2->setVisible(anyGram);
    if (overlay)
        compactLegend();
    m_plot->rescaleAxes();
    if (m_plot->xAxis->range().lower > 0)
        m_plot->xAxis->setRange(0, m_plot->xAxis->range().upper + 1);
    double lowestTolerance = m_plot->yAxis2->range().lower;
    for (int row : m_selected)
        if (const double tol = tolerance(m_layers[size_t(row)]); tol > 0)
            lowestTolerance = std::min(lowestTolerance, tol); // keep the threshold in view
    m_plot->yAxis2->setRangeLower(lowestTolerance);
    for (QCPAxis* axis : {m_plot->yAxis, m_plot->yAxis2}) // breathing room on the log axes
        axis->setRange(axis->range().lower / 2, axis->range().upper * 2);
    if (m_selected.isEmpty()) {
        m_title->setText(tr("No layer selected"));
    } else if (overlay) {
        m_title->setText(tr("Spectra of %n selected layers", nullptr, int(m_selected.size())));
    } else {
        const rs::LayerRecord& layer = m_layers[size_t(m_selected.front())];
        m_title->setText(tr("Spectra of %1 (%2 × %3)")
                             .arg(QString::fromStdString(layer.name))
                             .arg(layer.outFeatures)
                             .arg(layer.inFeatures));
    }
    m_plot->replot();
}

// With several layers: one legend entry per layer (its colour) and one per quantity (its line
// style), instead of every combination.
void SpectrumView::compactLegend() {
    QCPLegend* legend = m_plot->legend;
    for (const Shown& shown : m_shown)
        shown.graph->removeFromLegend(legend);
    for (int s = 0; s < m_selected.size(); ++s)
        legend->addItem(new LegendSwatch(legend, QPen(plotstyle::seriesColor(s), 2.5),
                                         plotstyle::layerLabel(m_layers[size_t(m_selected[s])])));
    for (int k = 0; k < kSpectra; ++k) {
        const auto spectrum = Spectrum(k);
        const bool shown = std::any_of(m_shown.begin(), m_shown.end(),
                                       [&](const Shown& x) { return x.spectrum == spectrum; });
        if (!shown)
            continue;
        const QString name = spectrum == Spectrum::Gram
                                 ? tr("%1 (right axis)").arg(spectrumName(spectrum))
                                 : spectrumName(spectrum);
        legend->addItem(new LegendSwatch(
            legend, QPen(QColor(0x55, 0x55, 0x55), 1.8, penStyle(spectrum)), name));
    }
}

// The EoRA tolerance (horizontal, on the eigenvalue axis) and the effective rank of C (vertical).
void SpectrumView::addMarkers(int row, const QColor& color) {
    const rs::LayerRecord& layer = m_layers[size_t(row)];
    const double tol = tolerance(layer);
    const int64_t rank = effectiveRank(layer);
    QPen pen(color, 1.2, Qt::DashLine);
    if (tol > 0) {
        auto* line = new QCPItemStraightLine(m_plot);
        line->setPen(pen);
        for (QCPItemPosition* p : {line->point1, line->point2})
            p->setAxes(m_plot->xAxis, m_plot->yAxis2);
        line->point1->setCoords(0, tol);
        line->point2->setCoords(1, tol);
        auto* label = new QCPItemText(m_plot);
        label->position->setAxes(m_plot->xAxis, m_plot->yAxis2);
        label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
        label->position->setCoords(0.97, tol); // the legend sits bottom left
        label->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
        label->setColor(color.darker(130));
        label->setText(tr("EoRA tolerance %1 (%2 discarded)")
                           .arg(plotstyle::formatValue(tol))
                           .arg(layer.gramEigenvalues.size() - size_t(rank)));
        m_toleranceLabels.emplace_back(label, tol);
    }
    auto* rankLine = new QCPItemStraightLine(m_plot);
    rankLine->setPen(QPen(color, 1.2, Qt::DotLine));
    rankLine->point1->setCoords(double(rank), 1);
    rankLine->point2->setCoords(double(rank), 2);
    auto* rankLabel = new QCPItemText(m_plot);
    rankLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    rankLabel->position->setCoords(double(rank), 0.02);
    // Rotated a quarter turn, the text runs down from the top, just left of the line.
    rankLabel->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    rankLabel->setRotation(-90);
    rankLabel->setColor(color.darker(130));
    rankLabel->setText(tr("effective rank of C: %1").arg(rank));
    m_rankLabels.emplace_back(rankLabel, double(rank));
}

namespace {

// Moves labels anchored at their value on `axis` apart along it, in pixels within [low, high];
// the other coordinate stays.
// Labels whose line is out of view (zoomed or dragged away) stay at their value, clipped with it.
void spreadLabels(const std::vector<std::pair<QCPItemText*, double>>& labels, QCPAxis* axis,
                  double gap, double low, double high) {
    const bool vertical = axis->orientation() == Qt::Vertical;
    const auto place = [vertical](QCPItemText* label, QCPItemPosition::PositionType type,
                                  double at) {
        QCPItemPosition* p = label->position;
        if (vertical) {
            p->setTypeY(type);
            p->setCoords(p->coords().x(), at);
        } else {
            p->setTypeX(type);
            p->setCoords(at, p->coords().y());
        }
    };
    std::vector<QCPItemText*> shown;
    std::vector<double> at;
    for (const auto& [label, value] : labels) {
        place(label, QCPItemPosition::ptPlotCoords, value);
        if (axis->range().contains(value)) {
            shown.push_back(label);
            at.push_back(axis->coordToPixel(value));
        }
    }
    if (shown.size() < 2 || high - low < gap)
        return;
    at = plotstyle::spreadApart(at, gap, low, high);
    for (size_t i = 0; i < shown.size(); ++i)
        place(shown[i], QCPItemPosition::ptAbsolute, at[i]);
}

} // namespace

void SpectrumView::placeMarkerLabels() {
    const QRect rect = m_plot->axisRect()->rect();
    const double gap = QFontMetricsF(m_plot->font()).height() + 2;
    // Tolerance labels are anchored at their bottom, so each needs a line of room above it;
    // turned a quarter, a rank label is a line wide and ends at its position.
    spreadLabels(m_toleranceLabels, m_plot->yAxis2, gap, rect.top() + gap, rect.bottom());
    spreadLabels(m_rankLabels, m_plot->xAxis, gap, rect.left() + gap, rect.right());
}

namespace {

QList<QCPItemText*> labelsOf(const std::vector<std::pair<QCPItemText*, double>>& labels) {
    QList<QCPItemText*> out;
    for (const auto& entry : labels)
        out << entry.first;
    return out;
}

} // namespace

QList<QCPItemText*> SpectrumView::toleranceLabels() const {
    return labelsOf(m_toleranceLabels);
}

QList<QCPItemText*> SpectrumView::rankLabels() const {
    return labelsOf(m_rankLabels);
}

void SpectrumView::spectrumHover(QMouseEvent* event) {
    const auto index = qsizetype(std::lround(m_plot->xAxis->pixelToCoord(event->position().x())));
    QStringList lines;
    for (const Shown& shown : m_shown) {
        const std::vector<double>& v = spectrumValues(m_layers[size_t(shown.row)], shown.spectrum);
        if (index >= 1 && size_t(index) <= v.size())
            lines << tr("%1: %2").arg(shown.graph->name(),
                                      plotstyle::formatValue(v[size_t(index - 1)]));
    }
    if (lines.isEmpty()) {
        QToolTip::hideText();
        return;
    }
    lines.prepend(tr("i = %1").arg(index));
    QToolTip::showText(event->globalPosition().toPoint(), lines.join(QLatin1Char('\n')), m_plot);
}

} // namespace rs::ui
