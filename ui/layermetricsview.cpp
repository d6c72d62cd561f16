#include "layermetricsview.h"

#include "plotexport.h"
#include "plotstyle.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace rs::ui {

LayerMetricsView::LayerMetricsView(QWidget* parent)
    : QWidget(parent)
    , m_plot(new QCustomPlot) {
    setObjectName(QStringLiteral("layerMetricsView"));
    m_plot->setObjectName(QStringLiteral("layerMetricsPlot"));
    plotstyle::apply(m_plot);
    m_plot->yAxis2->setVisible(true);
    m_stableRank = new QCPBars(m_plot->xAxis, m_plot->yAxis2);
    m_stableRank->setName(tr("stable rank (right axis)"));
    m_stableRank->setPen(QPen(QColor(0xbb, 0xbb, 0xbb)));
    m_stableRank->setBrush(QColor(0xdd, 0xdd, 0xdd));
    m_stableRank->setWidth(0.6);
    m_alpha = m_plot->addGraph(m_plot->xAxis, m_plot->yAxis);
    m_alpha->setName(tr("α, power-law exponent of the spectrum"));
    const QColor color = plotstyle::seriesColor(0);
    m_alpha->setPen(QPen(color, 1.2));
    m_alpha->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, 7));
    m_plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText));
    m_plot->xAxis->setTickLabelRotation(-60);
    m_plot->xAxis->setSubTicks(false);
    m_plot->yAxis->setLabel(tr("α"));
    m_plot->yAxis2->setLabel(tr("stable rank ‖W‖_F² / ‖W‖₂²"));
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setMouseTracking(true);
    connect(m_plot, &QCustomPlot::mouseMove, this, &LayerMetricsView::hover);
    PlotExport::attachContextMenu(m_plot, QStringLiteral("layer-metrics"));

    auto* bar = new QHBoxLayout;
    auto* hint = new QLabel(tr("Alpha about 2 to 6 marks well-trained layers; larger is closer to "
                               "random. A low stable rank compresses well."));
    hint->setWordWrap(true);
    bar->addWidget(hint, 1);
    bar->addWidget(PlotExport::createButton(m_plot, QStringLiteral("layer-metrics"), this));
    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(m_plot, 1);
    m_stack = plotstyle::emptyStateStack(content, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    clear();
}

void LayerMetricsView::clear() {
    setLayers({}, {});
}

void LayerMetricsView::setLayers(const std::vector<rs::LayerRecord>& layers,
                                 const std::vector<std::optional<rs::SpectralMetrics>>& metrics) {
    m_layers.clear();
    m_metrics.clear();
    for (size_t i = 0; i < layers.size() && i < metrics.size(); ++i) {
        if (!metrics[i])
            continue;
        m_metrics.push_back(*metrics[i]);
        m_layers.push_back(layers[i]);
    }
    QVector<double> x, alpha, stable;
    double top = 1.0, topStable = 1.0;
    for (size_t i = 0; i < m_metrics.size(); ++i) {
        x << double(i);
        alpha << (m_metrics[i].alpha > 0 ? m_metrics[i].alpha : std::nan(""));
        stable << m_metrics[i].stableRank;
        top = std::max(top, m_metrics[i].alpha);
        topStable = std::max(topStable, m_metrics[i].stableRank);
    }
    m_alpha->setData(x, alpha, true);
    m_stableRank->setData(x, stable, true);
    m_plot->xAxis->setRange(-0.7, std::max(1.0, double(x.size()) - 0.3));
    m_plot->yAxis->setRange(0, top * 1.15);
    m_plot->yAxis2->setRange(0, topStable * 1.15);
    updateTicks();
    if (m_layers.empty())
        plotstyle::showEmpty(m_stack, tr("No weight spectra"),
                             layers.empty() ? tr("Open an experiment run with layer analysis to "
                                                 "see the spectral metrics of its weights.")
                                            : tr("This experiment was run without layer analysis: "
                                                 "analyse its layers from the Spectra page."));
    else
        plotstyle::showContent(m_stack);
    m_plot->replot();
}

void LayerMetricsView::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    updateTicks();
}

void LayerMetricsView::updateTicks() {
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(m_plot->xAxis->ticker());
    if (!ticker)
        return;
    QStringList labels;
    std::vector<int> blocks;
    for (const rs::LayerRecord& layer : m_layers) {
        labels << plotstyle::layerLabel(layer);
        blocks.push_back(int(layer.block));
    }
    plotstyle::setLayerTicks(*ticker, labels, blocks, double(m_plot->axisRect()->width()));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QString LayerMetricsView::describe(double x) const {
    const auto i = qsizetype(std::lround(x));
    if (i < 0 || size_t(i) >= m_layers.size() || std::abs(x - double(i)) > 0.45)
        return {};
    const rs::SpectralMetrics& m = m_metrics[size_t(i)];
    return tr("%1\nα %2 (fitted to the largest %3 eigenvalues) · stable rank %4 · ‖W‖₂ %5")
        .arg(QString::fromStdString(m_layers[size_t(i)].name))
        .arg(m.alpha > 0 ? QString::number(m.alpha, 'f', 2) : tr("not fitted"))
        .arg(m.tailSize)
        .arg(m.stableRank, 0, 'f', 1)
        .arg(m.spectralNorm, 0, 'g', 4);
}

void LayerMetricsView::hover(QMouseEvent* event) {
    const QString text = describe(m_plot->xAxis->pixelToCoord(event->position().x()));
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

} // namespace rs::ui
