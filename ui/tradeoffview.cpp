#include "tradeoffview.h"

#include "plotstyle.h"
#include "store/experiment_store.h"
#include "utf8.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
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
    , m_metricBox(new QComboBox)
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
    m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
    m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
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

void TradeoffView::redraw() {
    m_plot->clearGraphs();
    m_plottedIndex.clear();
    m_plotted = 0;
    m_front = 0;
    const bool ppl = m_metric == Metric::Perplexity;
    m_plot->yAxis->setLabel(ppl ? tr("perplexity") : tr("mean relative output error"));
    // One scatter graph per compression, then the front as a line.
    std::map<std::string, QCPGraph*> graphs;
    std::vector<std::pair<double, double>> front;
    double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
    for (size_t i = 0; i < m_points.points.size(); ++i) {
        const rs::ExperimentPoint& p = m_points.points[i];
        if (ppl && !p.perplexity)
            continue;
        const double y = ppl ? *p.perplexity : p.predictedError;
        if (!(y > 0))
            continue; // a log axis cannot show it
        QCPGraph*& graph = graphs[p.compression];
        if (!graph) {
            graph = m_plot->addGraph();
            const QColor color = plotstyle::seriesColor(int(graphs.size() - 1));
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, color, 7));
            graph->setPen(QPen(color));
            graph->setName(fromUtf8(p.compression));
        }
        graph->addData(p.bitsPerWeight, y);
        m_plottedIndex.push_back(i);
        ++m_plotted;
        if (p.front) {
            front.emplace_back(p.bitsPerWeight, y);
            ++m_front;
        }
        xmin = std::min(xmin, p.bitsPerWeight);
        xmax = std::max(xmax, p.bitsPerWeight);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
    }
    if (!front.empty()) {
        std::sort(front.begin(), front.end());
        QCPGraph* line = m_plot->addGraph();
        line->setName(tr("Pareto front"));
        line->setPen(QPen(QColor(0x22, 0x22, 0x22), 1.5, Qt::DashLine));
        line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 9));
        for (const auto& [x, y] : front)
            line->addData(x, y);
    }
    if (m_plotted > 0) {
        const double pad = std::max(0.05, 0.05 * (xmax - xmin));
        m_plot->xAxis->setRange(xmin - pad, xmax + pad);
        m_plot->yAxis->setRange(ymin / 1.3, ymax * 1.3);
        m_message->setText(
            tr("%1 variants, %2 on the Pareto front%3. Click a point to open its "
               "experiment.")
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

qint64 TradeoffView::experimentAt(const QPointF& pos) const {
    double best = kPickRadiusPx;
    qint64 found = 0;
    const bool ppl = m_metric == Metric::Perplexity;
    for (const size_t i : m_plottedIndex) {
        const rs::ExperimentPoint& p = m_points.points[i];
        const double y = ppl ? *p.perplexity : p.predictedError;
        const QPointF at(m_plot->xAxis->coordToPixel(p.bitsPerWeight),
                         m_plot->yAxis->coordToPixel(y));
        const double d = QLineF(at, pos).length();
        if (d < best) {
            best = d;
            found = p.experiment;
        }
    }
    return found;
}

void TradeoffView::onClick(QMouseEvent* event) {
    if (const qint64 id = experimentAt(event->position()))
        emit openRequested(id);
}

} // namespace rs::ui
