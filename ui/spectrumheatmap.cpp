#include "spectrumheatmap.h"

#include "plotexport.h"
#include "plotstyle.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

constexpr double kFloor = 1e-12; // ratios below this (and zeros) share the lowest colour

// A viridis-like ramp: perceptually ordered and readable for colour-blind viewers.
QCPColorGradient viridis() {
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
    gradient.setColorStopAt(0.25, QColor(0x3b, 0x52, 0x8b));
    gradient.setColorStopAt(0.5, QColor(0x21, 0x91, 0x8c));
    gradient.setColorStopAt(0.75, QColor(0x5e, 0xc9, 0x62));
    gradient.setColorStopAt(1.0, QColor(0xfd, 0xe7, 0x25));
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    return gradient;
}

} // namespace

SpectrumHeatmap::SpectrumHeatmap(QWidget* parent)
    : QWidget(parent)
    , m_combo(new QComboBox(this))
    , m_plot(new QCustomPlot) {
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Heatmap of all layers:")));
    for (int i = 0; i < kSpectrumCount; ++i)
        m_combo->addItem(spectrumName(Spectrum(i)), i);
    m_combo->setToolTip(tr("Each row is one layer's spectrum divided by its largest value"));
    connect(m_combo, &QComboBox::currentIndexChanged, this,
            [this](int index) { setSpectrum(Spectrum(m_combo->itemData(index).toInt())); });
    bar->addWidget(m_combo);
    bar->addStretch(1);
    bar->addWidget(PlotExport::createButton(m_plot, QStringLiteral("spectra-heatmap"), this));
    setupPlot();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_plot, 1);
}

void SpectrumHeatmap::setLayers(const std::vector<rs::LayerRecord>* layers) {
    m_layers = layers;
    rebuild();
}

void SpectrumHeatmap::setSpectrum(Spectrum spectrum) {
    if (m_spectrum == spectrum)
        return;
    m_spectrum = spectrum;
    m_combo->setCurrentIndex(m_combo->findData(int(spectrum)));
    rebuild();
}

void SpectrumHeatmap::setSelected(const QList<int>& rows) {
    m_selected = rows;
    updateSelection();
}

void SpectrumHeatmap::setupPlot() {
    m_plot->setObjectName(QStringLiteral("heatmapPlot"));
    plotstyle::apply(m_plot);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal);
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);
    m_plot->axisRect()->setBackground(QColor(0xee, 0xee, 0xee)); // shows where rows end
    m_plot->xAxis->setLabel(tr("index i (descending order)"));
    m_plot->yAxis->setLabel(tr("layer"));
    m_plot->yAxis->setRangeReversed(true); // first layer on top, like the layer table
    m_plot->yAxis->grid()->setVisible(false);
    m_plot->xAxis->grid()->setVisible(false);
    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    m_map->setName(tr("normalised spectrum"));
    m_map->setInterpolate(false);
    m_map->setTightBoundary(true);
    m_scale = new QCPColorScale(m_plot);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setDataScaleType(QCPAxis::stLogarithmic);
    plotstyle::makeLogAxis(m_scale->axis());
    m_scale->setGradient(viridis());
    m_map->setColorScale(m_scale);
    m_title = plotstyle::addTitle(m_plot);
    m_plot->plotLayout()->addElement(1, 1, m_scale);
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_plot->setMinimumHeight(180);
    PlotExport::attachContextMenu(m_plot, QStringLiteral("spectra-heatmap"));
    connect(m_plot, &QCustomPlot::mouseMove, this, &SpectrumHeatmap::hover);
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, &SpectrumHeatmap::click);
    connect(m_plot, &QCustomPlot::beforeReplot, this, &SpectrumHeatmap::updateTicks);
}

void SpectrumHeatmap::rebuild() {
    m_rows.clear();
    size_t length = 0;
    for (size_t row = 0; m_layers && row < m_layers->size(); ++row) {
        const std::vector<double>& v = spectrumValues((*m_layers)[row], m_spectrum);
        if (!v.empty()) {
            m_rows.push_back(int(row));
            length = std::max(length, v.size());
        }
    }
    QCPColorMapData* data = m_map->data();
    const int rows = int(m_rows.size());
    data->setSize(int(length), rows);
    // The range spans the first to the last row's centre; a single row (one layer analysed on
    // demand) needs its own height, or the map is drawn zero pixels tall.
    data->setRange(QCPRange(1, double(std::max<size_t>(length, 1))),
                   rows == 1 ? QCPRange(-0.5, 0.5) : QCPRange(0, double(std::max(rows - 1, 0))));
    data->fill(std::nan(""));
    double lowest = 1.0;
    QStringList names;
    for (int r = 0; r < rows; ++r) {
        const rs::LayerRecord& layer = (*m_layers)[size_t(m_rows[size_t(r)])];
        names << QString::fromStdString(layer.name);
        const std::vector<double>& v = spectrumValues(layer, m_spectrum);
        const double first = v.front();
        for (size_t i = 0; i < v.size(); ++i) {
            const double ratio = first > 0 ? std::max(v[i] / first, kFloor) : kFloor;
            lowest = std::min(lowest, ratio);
            data->setCell(int(i), r, ratio);
        }
    }
    m_map->setProperty(PlotExport::kRowLabels, names); // names the rows of a CSV export
    updateTicks();
    m_plot->yAxis->setSubTicks(false);
    m_scale->setDataRange(QCPRange(std::min(lowest, 0.1), 1.0));
    m_scale->axis()->setLabel(m_spectrum == Spectrum::Gram
                                  ? tr("λ_i / λ_1")
                                  : tr("σ_i / σ_1 of %1").arg(spectrumName(m_spectrum)));
    m_title->setText(
        tr("Normalised %1 of all %n layers", nullptr, rows).arg(spectrumName(m_spectrum)));
    m_plot->xAxis->setRange(0.5, double(length) + 0.5);
    m_plot->yAxis->setRange(-0.5, double(rows) - 0.5);
    updateSelection();
}

// One label per row when rows are tall enough to read, else one per decoder block (the tooltip
// names every row). Runs before each replot because the height depends on the splitter.
void SpectrumHeatmap::updateTicks() {
    const auto rows = qsizetype(m_rows.size());
    const bool everyRow = rows > 0 && m_plot->axisRect()->height() >= 12 * rows;
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    for (qsizetype r = 0; r < rows; ++r) {
        const rs::LayerRecord& layer = (*m_layers)[size_t(m_rows[size_t(r)])];
        if (everyRow)
            ticker->addTick(double(r), plotstyle::layerLabel(layer));
        else if (r == 0 || (*m_layers)[size_t(m_rows[size_t(r - 1)])].block != layer.block)
            ticker->addTick(double(r), tr("L%1").arg(layer.block));
    }
    m_plot->yAxis->setTicker(ticker);
}

// Outlines the selected layers' rows so that the two plots read together, and separates the
// decoder blocks.
void SpectrumHeatmap::updateSelection() {
    m_plot->clearItems();
    for (size_t r = 1; r < m_rows.size(); ++r) {
        if ((*m_layers)[size_t(m_rows[r])].block == (*m_layers)[size_t(m_rows[r - 1])].block)
            continue;
        auto* line = new QCPItemStraightLine(m_plot);
        line->setPen(QPen(QColor(255, 255, 255, 160), 1));
        line->point1->setCoords(0, double(r) - 0.5);
        line->point2->setCoords(1, double(r) - 0.5);
    }
    for (int row : m_selected) {
        const auto it = std::find(m_rows.begin(), m_rows.end(), row);
        if (it == m_rows.end())
            continue;
        const double r = double(it - m_rows.begin());
        auto* rect = new QCPItemRect(m_plot);
        rect->setPen(QPen(QColor(0xe1, 0x57, 0x59), 2));
        rect->topLeft->setCoords(m_plot->xAxis->range().lower - 1, r - 0.5);
        rect->bottomRight->setCoords(m_map->data()->keyRange().upper + 0.5, r + 0.5);
    }
    m_plot->replot();
}

int SpectrumHeatmap::rowAt(const QPointF& pos, int* index) const {
    const double x = m_plot->xAxis->pixelToCoord(pos.x());
    const double y = m_plot->yAxis->pixelToCoord(pos.y());
    const int r = int(std::lround(y));
    *index = int(std::lround(x));
    if (r < 0 || size_t(r) >= m_rows.size() || *index < 1)
        return -1;
    return m_rows[size_t(r)];
}

void SpectrumHeatmap::hover(QMouseEvent* event) {
    int index = 0;
    const int row = rowAt(event->position(), &index);
    const std::vector<double>* v =
        row >= 0 ? &spectrumValues((*m_layers)[size_t(row)], m_spectrum) : nullptr;
    if (!v || size_t(index) > v->size() || v->front() <= 0) {
        QToolTip::hideText();
        return;
    }
    const rs::LayerRecord& layer = (*m_layers)[size_t(row)];
    QToolTip::showText(event->globalPosition().toPoint(),
                       tr("%1\ni = %2: %3 = %4 of the largest\nDouble-click to select this layer")
                           .arg(QString::fromStdString(layer.name))
                           .arg(index)
                           .arg(spectrumName(m_spectrum),
                                plotstyle::formatValue((*v)[size_t(index - 1)] / v->front())),
                       m_plot);
}

void SpectrumHeatmap::click(QMouseEvent* event) {
    int index = 0;
    const int row = rowAt(event->position(), &index);
    if (row < 0)
        return;
    setSelected({row});
    emit layerActivated(row);
}

} // namespace rs::ui
