#include "tradeoffview.h"

#include "compactcombo.h"
#include "plotstyle.h"
#include "store/experiment_store.h"
#include "utf8.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <map>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

// A click selects the nearest point within this many pixels.
constexpr double kPickRadiusPx = 8.0;

} // namespace

TradeoffView::TradeoffView(QWidget* parent)
    : QWidget(parent)
    , m_metricBox(compactCombo(new QComboBox))
    , m_plot(new QCustomPlot)
    , m_message(new QLabel) {
    setObjectName(QStringLiteral("tradeoffView"));
    m_metricBox->setObjectName(QStringLiteral("tradeoffMetric"));
    m_metricBox->addItem(tr("Predicted error (mean relative output error)"),
                         int(Metric::PredictedError));
    m_metricBox->addItem(tr("Measured perplexity"), int(Metric::Perplexity));
    m_plot->setObjectName(QStringLiteral("tradeoffPlot"));
    plotstyle::apply(m_plot);
    m_plot->xAxis->setLabel(tr("size: bits per weight of the compressed layers, incl. adapter"));
    plotstyle::makeLogAxis(m_plot->yAxis);
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_message->setObjectName(QStringLiteral("tradeoffMessage"));
    m_message->setWordWrap(true);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Error axis:")));
    top->addWidget(m_metricBox);
    top->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_message);

    connect(m_metricBox, &QComboBox::currentIndexChanged, this, [this] {
        m_metric = Metric(m_metricBox->currentData().toInt());
        refresh();
    });
    connect(m_plot, &QCustomPlot::mousePress, this, &TradeoffView::onClick);
    connect(m_plot, &QCustomPlot::mouseMove, this, &TradeoffView::onHover);
    m_plot->setMouseTracking(true);
    redraw();
}

void TradeoffView::setDatabase(const std::filesystem::path& database) {
    m_database = database;
    refresh();
}

void TradeoffView::setModelPath(const std::string& path) {
    m_modelPath = path;
    refresh();
}

void TradeoffView::setMetric(Metric metric) {
    m_metricBox->setCurrentIndex(m_metricBox->findData(int(metric)));
}

void TradeoffView::refresh() {
    m_points = {};
    std::error_code error;
    if (!m_database.empty() && std::filesystem::exists(m_database, error)) {
        try {
            rs::ExperimentStore::Options options;
            options.readOnly = true;
            auto store = rs::ExperimentStore::open(m_database, options);
            m_points = rs::experimentPoints(*store, m_modelPath, m_metric == Metric::Perplexity);
        } catch (const std::exception& e) {
            m_message->setText(fromUtf8(e.what()));
        }
    }
    redraw();
}

double TradeoffView::metricOf(const rs::ExperimentPoint& p) const {
    return m_metric == Metric::Perplexity ? p.perplexity.value_or(0.0) : p.predictedError;
}

void TradeoffView::redraw() {
    m_plot->clearGraphs();
    m_plot->clearItems();
    m_plottedIndex.clear();
    m_plotted = 0;
    m_front = 0;
    const bool ppl = m_metric == Metric::Perplexity;
    m_plot->yAxis->setLabel(ppl ? tr("perplexity") : tr("mean relative output error"));
    // One scatter graph per compression, then the front as a line.
    std::map<std::string, QCPGraph*> graphs;
    std::vector<size_t> front;
    double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
    for (size_t i = 0; i < m_points.points.size(); ++i) {
        const rs::ExperimentPoint& p = m_points.points[i];
        const double y = metricOf(p);
        if (!(y > 0))
            continue; // not measured, or a log axis cannot show it
        QCPGraph*& graph = graphs[p.compression];
        if (!graph) {
            graph = m_plot->addGraph();
            const QColor color = plotstyle::seriesColor(int(graphs.size() - 1));
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, 7));
            graph->setPen(QPen(color));
            graph->setName(fromUtf8(p.compression));
        }
        graph->addData(p.bitsPerWeight, y);
        m_plottedIndex.push_back(i);
        ++m_plotted;
        if (p.front)
            front.push_back(i);
        xmin = std::min(xmin, p.bitsPerWeight);
        xmax = std::max(xmax, p.bitsPerWeight);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
    }
    m_front = int(front.size());
    drawFront(front);
    if (ppl && m_points.originalPerplexity && m_plotted > 0) {
        ymin = std::min(ymin, *m_points.originalPerplexity);
        ymax = std::max(ymax, *m_points.originalPerplexity);
        drawOriginal();
    }
    if (m_plotted > 0) {
        // Every point inside, with room for the front's labels.
        const double pad = std::max(0.1, 0.08 * (xmax - xmin));
        m_plot->xAxis->setRange(xmin - pad, xmax + 2 * pad); // the labels extend rightwards
        m_plot->yAxis->setRange(ymin / 1.3, ymax * 1.3);
        m_message->setText(
            tr("%1 variants, %2 on the Pareto front%3. Hover a point to name it; click it to open "
               "its experiment.")
                .arg(m_plotted)
                .arg(m_front)
                .arg(m_points.skipped > 0
                         ? tr(" (%1 without a size or result not shown)").arg(m_points.skipped)
                         : QString()));
    } else {
        m_plot->xAxis->setRange(0, 16);
        m_plot->yAxis->setRange(1e-3, 1);
        m_message->setText(ppl ? tr("No evaluated experiments of this model yet: run one with an "
                                    "evaluation text.")
                               : tr("No finished experiments of this model yet."));
    }
    m_plot->replot();
}

// The front as a dashed line through rings around its points (their colours stay visible), each
// labelled with its variant.
void TradeoffView::drawFront(const std::vector<size_t>& front) {
    if (front.empty())
        return;
    std::vector<size_t> sorted = front;
    std::sort(sorted.begin(), sorted.end(), [this](size_t a, size_t b) {
        return m_points.points[a].bitsPerWeight < m_points.points[b].bitsPerWeight;
    });
    QCPGraph* line = m_plot->addGraph();
    line->setName(tr("Pareto front"));
    line->setPen(QPen(QColor(0x22, 0x22, 0x22), 1.2, Qt::DashLine));
    line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle,
                                          QPen(QColor(0x22, 0x22, 0x22), 1.5), Qt::NoBrush, 13));
    for (const size_t i : sorted) {
        const rs::ExperimentPoint& p = m_points.points[i];
        line->addData(p.bitsPerWeight, metricOf(p));
        auto* label = new QCPItemText(m_plot);
        label->setText(fromUtf8(p.label));
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->position->setCoords(p.bitsPerWeight, metricOf(p));
        label->setPadding(QMargins(7, 0, 0, 5));
        label->setFont(plotstyle::smallFont(m_plot));
        label->setColor(QColor(0x33, 0x33, 0x33));
    }
}

// A horizontal line at the original model's perplexity: the level compensation works back to.
void TradeoffView::drawOriginal() {
    const double y = *m_points.originalPerplexity;
    auto* line = new QCPItemStraightLine(m_plot);
    line->setObjectName(QStringLiteral("originalLine"));
    line->setPen(QPen(QColor(0x2a, 0x9d, 0x5c), 1.2, Qt::DotLine));
    line->point1->setCoords(0, y);
    line->point2->setCoords(1, y);
    auto* label = new QCPItemText(m_plot);
    label->setText(tr("original model: %1").arg(y, 0, 'f', 3));
    label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    label->position->setCoords(0.01, y);
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->setFont(plotstyle::smallFont(m_plot));
    label->setColor(QColor(0x2a, 0x9d, 0x5c));
}

qsizetype TradeoffView::pointAt(const QPointF& pos) const {
    double best = kPickRadiusPx;
    qsizetype found = -1;
    for (const size_t i : m_plottedIndex) {
        const rs::ExperimentPoint& p = m_points.points[i];
        const QPointF at(m_plot->xAxis->coordToPixel(p.bitsPerWeight),
                         m_plot->yAxis->coordToPixel(metricOf(p)));
        const double d = QLineF(at, pos).length();
        if (d < best) {
            best = d;
            found = qsizetype(i);
        }
    }
    return found;
}

qint64 TradeoffView::experimentAt(const QPointF& pos) const {
    const qsizetype i = pointAt(pos);
    return i < 0 ? 0 : m_points.points[size_t(i)].experiment;
}

QString TradeoffView::describeAt(const QPointF& pos) const {
    const qsizetype i = pointAt(pos);
    if (i < 0)
        return {};
    const rs::ExperimentPoint& p = m_points.points[size_t(i)];
    QString text = tr("Experiment %1 · %2 · %3\n%4 bits per weight · predicted error %5")
                       .arg(p.experiment)
                       .arg(fromUtf8(p.compression), fromUtf8(p.label))
                       .arg(p.bitsPerWeight, 0, 'f', 3)
                       .arg(plotstyle::formatValue(p.predictedError));
    if (p.perplexity)
        text += tr(" · perplexity %1").arg(*p.perplexity, 0, 'f', 3);
    if (p.front)
        text += tr("\non the Pareto front");
    return text;
}

void TradeoffView::onHover(QMouseEvent* event) {
    const QString text = describeAt(event->position());
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

void TradeoffView::onClick(QMouseEvent* event) {
    if (const qint64 id = experimentAt(event->position()))
        emit openRequested(id);
}

} // namespace rs::ui
