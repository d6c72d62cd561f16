#include "rankbarsplot.h"

#include "plotstyle.h"

#include <QToolTip>
#include <algorithm>
#include <cmath>

namespace rs::ui {

RankBarsPlot::RankBarsPlot(QWidget* parent)
    : QCustomPlot(parent)
    , m_uniformBars(new QCPBars(xAxis, yAxis))
    , m_planBars(new QCPBars(xAxis, yAxis))
    , m_ticker(new QCPAxisTickerText) {
    setObjectName(QStringLiteral("budgetPlot"));
    setMinimumHeight(180);
    plotstyle::apply(this);
    m_uniformBars->setName(tr("uniform"));
    m_uniformBars->setPen(QPen(QColor(0x88, 0x88, 0x88)));
    m_uniformBars->setBrush(QColor(0xbb, 0xbb, 0xbb));
    m_planBars->setName(tr("plan"));
    m_planBars->setPen(QPen(QColor(0x1f, 0x5f, 0xbf)));
    m_planBars->setBrush(QColor(0x4a, 0x90, 0xe2));
    auto* group = new QCPBarsGroup(this);
    m_uniformBars->setBarsGroup(group);
    m_planBars->setBarsGroup(group);
    m_uniformBars->setWidth(0.4);
    m_planBars->setWidth(0.4);
    xAxis->setTicker(m_ticker);
    xAxis->setTickLabelRotation(-60);
    xAxis->setSubTicks(false);
    yAxis->setLabel(tr("rank"));
    legend->setVisible(true);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    setMouseTracking(true);
    connect(this, &QCustomPlot::mouseMove, this, &RankBarsPlot::hover);
}

void RankBarsPlot::setLayers(QStringList names, QStringList labels, std::vector<int> blocks) {
    m_names = std::move(names);
    m_labels = std::move(labels);
    m_blocks = std::move(blocks);
    m_uniform.clear();
    m_plan.clear();
    updateTicks();
}

void RankBarsPlot::setRanks(const std::vector<qint64>& uniform, const std::vector<qint64>& plan) {
    m_uniform = uniform;
    m_plan = plan;
    QVector<double> x, u, p;
    double top = 1.0;
    for (size_t i = 0; i < plan.size() && i < uniform.size(); ++i) {
        x << double(i);
        u << double(uniform[i]);
        p << double(plan[i]);
        top = std::max({top, double(uniform[i]), double(plan[i])});
    }
    m_uniformBars->setData(x, u, true);
    m_planBars->setData(x, p, true);
    xAxis->setRange(-0.7, std::max<double>(1.0, double(plan.size()) - 0.3));
    yAxis->setRange(0, top * 1.15);
    replot(QCustomPlot::rpQueuedReplot);
}

void RankBarsPlot::resizeEvent(QResizeEvent* event) {
    QCustomPlot::resizeEvent(event);
    updateTicks();
}

void RankBarsPlot::updateTicks() {
    plotstyle::setLayerTicks(*m_ticker, m_labels, m_blocks, double(axisRect()->width()));
    replot(QCustomPlot::rpQueuedReplot);
}

QString RankBarsPlot::describe(double x) const {
    const auto i = qsizetype(std::lround(x));
    if (i < 0 || i >= m_names.size() || size_t(i) >= m_plan.size() ||
        std::abs(x - double(i)) > 0.45)
        return {};
    return tr("%1\nuniform rank %2 · plan rank %3")
        .arg(m_names[i])
        .arg(m_uniform[size_t(i)])
        .arg(m_plan[size_t(i)]);
}

void RankBarsPlot::hover(QMouseEvent* event) {
    const QString text = describe(xAxis->pixelToCoord(event->position().x()));
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

} // namespace rs::ui
