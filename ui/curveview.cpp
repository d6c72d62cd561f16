#include "curveview.h"

#include "compactcombo.h"
#include "plotexport.h"
#include "plotstyle.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QStackedWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

const QColor kSvdColor = plotstyle::seriesColor(1);  // orange
const QColor kEoraColor = plotstyle::seriesColor(0); // blue

bool hasCurves(const rs::LayerRecord& layer) {
    return !layer.curveSvd.empty() && layer.curveSvd.size() == layer.curveEora.size();
}

QString percent(double fraction) {
    if (!std::isfinite(fraction))
        return CurveView::tr("n/a");
    return CurveView::tr("%1 %").arg(QLocale().toString(100.0 * fraction, 'g', 3));
}

} // namespace

double CurveView::Total::normalized(double absolute, Normalization n) const {
    const double by = n == Normalization::ErrorLeft ? errorEnergy : outputEnergy;
    return by > 0 ? absolute / by : std::nan("");
}

CurveView::CurveView(QWidget* parent)
    : QWidget(parent)
    , m_normCombo(compactCombo(new QComboBox(this)))
    , m_logBox(new QCheckBox(tr("Log scale"), this))
    , m_plot(new QCustomPlot)
    , m_readout(new QLabel(this))
    , m_total(new QLabel(this)) {
    for (auto n : {Normalization::ErrorLeft, Normalization::RelativeOutput})
        m_normCombo->addItem(normalizationName(n), int(n));
    m_normCombo->setItemData(0,
                             tr("E(r) / tr(dW C dWᵀ): 1 at rank 0, 0 when the whole error is "
                                "compensated"),
                             Qt::ToolTipRole);
    m_normCombo->setItemData(1,
                             tr("E(r) / tr(W C Wᵀ): the output error relative to the "
                                "layer's output energy on calibration inputs"),
                             Qt::ToolTipRole);
    connect(m_normCombo, &QComboBox::currentIndexChanged, this, [this](int index) {
        setNormalization(Normalization(m_normCombo->itemData(index).toInt()));
    });
    m_logBox->setToolTip(tr("Logarithmic error axis (ranks with zero error are not drawn)"));
    connect(m_logBox, &QCheckBox::toggled, this, &CurveView::setLogScale);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Normalisation:")));
    bar->addWidget(m_normCombo);
    bar->addWidget(m_logBox);
    bar->addStretch(1);
    bar->addWidget(PlotExport::createButton(m_plot, QStringLiteral("error-curves"), this));

    setupPlot();
    m_readout->setObjectName(QStringLiteral("curveReadout"));
    m_readout->setTextFormat(Qt::RichText);
    m_readout->setWordWrap(true); // long layer and variant names must not widen the window
    // Two lines whatever it says, so that the plot does not jump as the mouse moves.
    m_readout->setFixedHeight(2 * m_readout->fontMetrics().lineSpacing() + 4);
    m_readout->setAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_readout->setToolTip(tr("Values at the rank under the mouse"));
    m_total->setObjectName(QStringLiteral("curveTotal"));
    m_total->setTextFormat(Qt::RichText);
    m_total->setWordWrap(true);
    m_total->setToolTip(tr("Sum over layers of E_l(r_l) at each layer's current rank, divided by "
                           "the sum of the normalisers"));

    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(m_plot, 1);
    contentLayout->addWidget(m_readout);
    contentLayout->addWidget(m_total);
    m_stack = plotstyle::emptyStateStack(content, this);
    connect(plotstyle::emptyLabel(m_stack), &QLabel::linkActivated, this,
            &CurveView::analysisRequested);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    updateEmptyState();
    setPair(Pair::Compensation); // names the curves and the rank axis
}

void CurveView::setupPlot() {
    m_plot->setObjectName(QStringLiteral("curvePlot"));
    plotstyle::apply(m_plot);
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_title = plotstyle::addTitle(m_plot);

    m_eora = m_plot->addGraph();
    m_eora->setPen(QPen(kEoraColor, 2.2));
    m_svd = m_plot->addGraph();
    m_svd->setPen(QPen(kSvdColor, 2.2));
    // The band between the curves is what EoRA gains over plain SVD at each rank.
    QColor band = kSvdColor;
    band.setAlpha(60);
    m_svd->setBrush(band);
    m_svd->setChannelFillGraph(m_eora);

    m_rankLine = new QCPItemStraightLine(m_plot);
    m_rankLine->setPen(QPen(QColor(0x55, 0x55, 0x55), 1.2, Qt::DashLine));
    m_rankLine->setVisible(false);
    m_rankLabel = new QCPItemText(m_plot);
    m_rankLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_rankLabel->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    m_rankLabel->setPadding(QMargins(4, 2, 4, 2));
    m_rankLabel->setColor(QColor(0x44, 0x44, 0x44));
    m_rankLabel->setVisible(false);
    m_hoverLine = new QCPItemStraightLine(m_plot);
    m_hoverLine->setPen(QPen(QColor(0x99, 0x99, 0x99), 1, Qt::DotLine));
    m_hoverLine->setVisible(false);
    m_plot->installEventFilter(this);
    m_svdTracer = new QCPItemTracer(m_plot);
    m_eoraTracer = new QCPItemTracer(m_plot);
    for (auto [tracer, color] : {std::pair{m_svdTracer, kSvdColor}, {m_eoraTracer, kEoraColor}}) {
        tracer->setStyle(QCPItemTracer::tsCircle);
        tracer->setSize(8);
        tracer->setPen(QPen(color.darker(120), 1.5));
        tracer->setBrush(Qt::white);
        tracer->setInterpolating(false);
        tracer->setVisible(false);
    }
    m_plot->setMinimumHeight(240);
    PlotExport::attachContextMenu(m_plot, QStringLiteral("error-curves"));
    connect(m_plot, &QCustomPlot::mouseMove, this, &CurveView::hover);
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this](QMouseEvent* event) {
        if (m_current < 0)
            return;
        const auto last = int64_t(m_layers[size_t(m_current)].curveSvd.size()) - 1;
        const auto r = std::clamp<int64_t>(
            std::lround(m_plot->xAxis->pixelToCoord(event->position().x())), 0, last);
        emit rankPicked(m_current, r);
    });
}

QString CurveView::normalizationName(Normalization normalization) {
    return normalization == Normalization::ErrorLeft ? tr("Fraction of compression error left")
                                                     : tr("Relative output error");
}

void CurveView::setLayers(std::vector<rs::LayerRecord> layers) {
    m_layers = std::move(layers);
    m_ranks.clear();
    m_ranksLabel.clear();
    m_overlaid.clear();
    m_runRanks.clear();
    const auto first = std::find_if(m_layers.begin(), m_layers.end(), hasCurves);
    m_current = first == m_layers.end() ? -1 : int(first - m_layers.begin());
    updateEmptyState();
    rebuild();
    updateTotal();
}

// Tells an empty window apart from an experiment that was run without layer analysis.
void CurveView::updateEmptyState() {
    if (std::any_of(m_layers.begin(), m_layers.end(), hasCurves))
        plotstyle::showContent(m_stack);
    else if (m_layers.empty())
        plotstyle::showEmpty(m_stack, tr("No experiment loaded"),
                             tr("Run a compression with analysis, or open an experiment, to see "
                                "how its error falls with the rank."));
    else
        plotstyle::showEmpty(m_stack, tr("No layer analysis stored"),
                             tr("This experiment was run without layer analysis. The layers "
                                "selected in the layer table (all when none is) can be analysed "
                                "now from its saved calibration statistics."),
                             tr("Analyse the selected layers"));
}

void CurveView::clear() {
    setLayers({});
}

void CurveView::setSelectedLayers(const QList<int>& rows) {
    QList<int> valid;
    for (int row : rows)
        if (row >= 0 && size_t(row) < m_layers.size() && hasCurves(m_layers[size_t(row)]) &&
            !valid.contains(row))
            valid << row;
    if (!valid.isEmpty())
        m_current = valid.takeFirst();
    m_overlaid = valid;
    rebuild();
}

void CurveView::setRunRanks(const QList<qint64>& ranks) {
    m_runRanks = ranks;
    rebuild();
}

void CurveView::setVariant(const rs::VariantRecord& variant) {
    std::vector<int64_t> ranks(m_layers.size(), -1);
    for (size_t i = 0; i < m_layers.size(); ++i)
        if (variant.index >= 0 && size_t(variant.index) < m_layers[i].ranks.size())
            ranks[i] = m_layers[i].ranks[size_t(variant.index)];
    setRanks(ranks, QString::fromStdString(variant.label));
}

void CurveView::setRanks(const std::vector<int64_t>& ranks, const QString& label) {
    m_ranks = ranks;
    m_ranksLabel = label.isEmpty() ? tr("current plan") : label;
    updateMarker();
    updateTotal();
    m_plot->replot();
}

void CurveView::setNormalization(Normalization normalization) {
    if (m_normalization == normalization)
        return;
    m_normalization = normalization;
    m_normCombo->setCurrentIndex(m_normCombo->findData(int(normalization)));
    rebuild();
    emit normalizationChanged(normalization);
}

void CurveView::setPair(Pair pair) {
    const bool lowRank = pair == Pair::LowRank;
    // Factors replace the weight (dW = W): the error left is the relative output error. The
    // user's choice comes back with the next compensation experiment.
    if (lowRank && m_pair != pair) {
        m_compensationNormalization = m_normalization;
        setNormalization(Normalization::RelativeOutput);
    } else if (!lowRank && m_pair != pair) {
        setNormalization(m_compensationNormalization);
    }
    m_pair = pair;
    m_normCombo->setEnabled(!lowRank);
    nameCurrentCurves();
    m_plot->xAxis->setLabel(lowRank ? tr("rank r of the factors")
                                    : tr("rank r of the compensation"));
    rebuild();
    updateTotal();
}

// In full when one layer shows; prefixed with its layer when others are overlaid.
void CurveView::nameCurrentCurves() {
    const bool lowRank = m_pair == Pair::LowRank;
    if (m_overlaid.isEmpty() || m_current < 0) {
        m_eora->setName(lowRank ? tr("E_opt(r): data-aware optimum (LoRD)")
                                : tr("E_eora(r): EoRA (optimal)"));
        m_svd->setName(lowRank ? tr("E_svd(r): weight SVD (LoRD)") : tr("E_svd(r): plain SVD"));
        return;
    }
    const QString layer = plotstyle::layerLabel(m_layers[size_t(m_current)]);
    m_eora->setName(tr("%1 · %2").arg(layer, eoraName()));
    m_svd->setName(tr("%1 · %2").arg(layer, svdName()));
}

QString CurveView::svdName() const {
    return m_pair == Pair::LowRank ? tr("weight SVD") : tr("SVD");
}

QString CurveView::eoraName() const {
    return m_pair == Pair::LowRank ? tr("data-aware") : tr("EoRA");
}

void CurveView::setLogScale(bool log) {
    if (m_log == log)
        return;
    m_log = log;
    m_logBox->setChecked(log);
    rebuild();
}

double CurveView::scale(const rs::LayerRecord& layer) const {
    const double by =
        m_normalization == Normalization::ErrorLeft ? layer.errorEnergy : layer.outputEnergy;
    return by > 0 ? 1.0 / by : std::nan("");
}

int64_t CurveView::rankOf(int row) const {
    return row >= 0 && size_t(row) < m_ranks.size() ? m_ranks[size_t(row)] : -1;
}

CurveView::Total CurveView::predictTotal(const std::vector<rs::LayerRecord>& layers,
                                         const std::vector<int64_t>& ranks) {
    Total total;
    for (size_t i = 0; i < layers.size() && i < ranks.size(); ++i) {
        const rs::LayerRecord& layer = layers[i];
        if (!hasCurves(layer) || ranks[i] < 0)
            continue;
        const auto r = std::min<size_t>(size_t(ranks[i]), layer.curveSvd.size() - 1);
        total.svd += layer.curveSvd[r];
        total.eora += layer.curveEora[r];
        total.errorEnergy += layer.errorEnergy;
        total.outputEnergy += layer.outputEnergy;
        total.adapterParameters += int64_t(r) * (layer.outFeatures + layer.inFeatures);
        ++total.layers;
    }
    return total;
}

QString CurveView::readout(int rank) const {
    if (m_current < 0)
        return {};
    const rs::LayerRecord& layer = m_layers[size_t(m_current)];
    if (rank < 0 || size_t(rank) >= layer.curveSvd.size())
        return {};
    const double k = scale(layer);
    const double svd = layer.curveSvd[size_t(rank)] * k;
    const double eora = layer.curveEora[size_t(rank)] * k;
    return tr("r = %1: %2 %3 · %4 %5 · gap %6 (%4 lower by %7 of the %2 error)")
        .arg(rank)
        .arg(svdName(), plotstyle::formatValue(svd), eoraName(), plotstyle::formatValue(eora),
             plotstyle::formatValue(svd - eora), percent(svd > 0 ? (svd - eora) / svd : 0.0));
}

void CurveView::rebuild() {
    if (m_current < 0) {
        m_svd->data()->clear();
        m_eora->data()->clear();
        m_title->setText(QString());
        m_readout->clear();
        rebuildOverlay();
        rebuildRunMarks();
        updateMarker();
        m_plot->replot();
        return;
    }
    const rs::LayerRecord& layer = m_layers[size_t(m_current)];
    const double k = scale(layer);
    const auto n = qsizetype(layer.curveSvd.size());
    QVector<double> keys(n), svd(n), eora(n);
    for (qsizetype r = 0; r < n; ++r) {
        keys[r] = double(r);
        svd[r] = layer.curveSvd[size_t(r)] * k;
        eora[r] = layer.curveEora[size_t(r)] * k;
        if (m_log) { // a log axis cannot show the zero error at full rank
            svd[r] = svd[r] > 0 ? svd[r] : std::nan("");
            eora[r] = eora[r] > 0 ? eora[r] : std::nan("");
        }
    }
    m_svd->setData(keys, svd, true);
    m_eora->setData(keys, eora, true);
    m_plot->yAxis->setLabel(m_normalization == Normalization::ErrorLeft
                                ? tr("fraction of compression error left  E(r) / tr(dW C dWᵀ)")
                                : tr("relative output error  E(r) / tr(W C Wᵀ)"));
    if (m_log) {
        plotstyle::makeLogAxis(m_plot->yAxis);
    } else {
        m_plot->yAxis->setScaleType(QCPAxis::stLinear);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        m_plot->yAxis->setNumberFormat(QStringLiteral("g"));
        m_plot->yAxis->setNumberPrecision(3);
    }
    m_plot->rescaleAxes();
    m_plot->xAxis->setRange(-0.5, double(n - 1) + 0.5);
    const QCPRange y = m_plot->yAxis->range();
    if (m_log)
        m_plot->yAxis->setRange(y.lower / 2, y.upper * 2);
    else
        m_plot->yAxis->setRange(0, y.upper * 1.05);
    rebuildOverlay();
    rebuildRunMarks();
    if (m_overlaid.isEmpty())
        m_title->setText(tr("Error vs rank of %1 (%2 × %3)") // short: fits narrow windows
                             .arg(plotstyle::layerLabel(layer))
                             .arg(layer.outFeatures)
                             .arg(layer.inFeatures));
    else
        m_title->setText(
            tr("Error vs rank of %n layer(s); values for %1", nullptr, int(m_overlaid.size()) + 1)
                .arg(plotstyle::layerLabel(layer)));
    updateMarker();
    m_plot->replot();
}

// The other selected layers' curves, in the same normalisation, each layer in its own colour;
// the axes grow to hold them.
void CurveView::rebuildOverlay() {
    for (QCPGraph* g : m_overlayGraphs)
        m_plot->removeGraph(g);
    m_overlayGraphs.clear();
    nameCurrentCurves();
    double top = m_plot->yAxis->range().upper, right = m_plot->xAxis->range().upper;
    for (int i = 0; i < m_overlaid.size(); ++i) {
        const rs::LayerRecord& layer = m_layers[size_t(m_overlaid[i])];
        const QColor color = plotstyle::seriesColor(i + 2); // 0 and 1 are the current layer's
        const double k = scale(layer);
        for (const bool eora : {true, false}) {
            const std::vector<double>& curve = eora ? layer.curveEora : layer.curveSvd;
            QCPGraph* g = m_plot->addGraph();
            g->setPen(QPen(color, 1.6, eora ? Qt::SolidLine : Qt::DashLine));
            g->setName(
                tr("%1 · %2").arg(plotstyle::layerLabel(layer), eora ? eoraName() : svdName()));
            for (size_t r = 0; r < curve.size(); ++r) {
                const double y = curve[r] * k;
                g->addData(double(r), m_log && !(y > 0) ? std::nan("") : y);
                if (!m_log)
                    top = std::max(top, y * 1.05);
            }
            right = std::max(right, double(curve.size()) - 0.5);
            m_overlayGraphs.push_back(g);
        }
    }
    if (!m_overlayGraphs.empty()) {
        m_plot->xAxis->setRangeUpper(right);
        if (!m_log)
            m_plot->yAxis->setRangeUpper(top);
    }
}

// A short tick at the foot of the plot for each rank the experiment ran.
void CurveView::rebuildRunMarks() {
    for (QCPAbstractItem* item : m_runMarks)
        m_plot->removeItem(item);
    m_runMarks.clear();
    for (const qint64 rank : m_runRanks) {
        auto* mark = new QCPItemLine(m_plot);
        mark->start->setTypeY(QCPItemPosition::ptAxisRectRatio);
        mark->end->setTypeY(QCPItemPosition::ptAxisRectRatio);
        mark->start->setCoords(double(rank), 1.0);
        mark->end->setCoords(double(rank), 0.94);
        mark->setPen(QPen(QColor(0x33, 0x33, 0x33), 2));
        m_runMarks.push_back(mark);
        auto* label = new QCPItemText(m_plot);
        label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
        label->position->setCoords(double(rank), 0.93);
        label->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
        label->setText(QString::number(rank));
        label->setFont(plotstyle::smallFont(m_plot));
        label->setColor(QColor(0x33, 0x33, 0x33));
        m_runMarks.push_back(label);
    }
}

void CurveView::updateMarker() {
    const int64_t rank = rankOf(m_current);
    const bool shown = m_current >= 0 && rank >= 0;
    m_rankLine->setVisible(shown);
    m_rankLabel->setVisible(shown);
    m_svdTracer->setVisible(shown);
    m_eoraTracer->setVisible(shown);
    if (!shown) {
        m_svdTracer->setGraph(nullptr);
        m_eoraTracer->setGraph(nullptr);
        m_readout->setText(m_current >= 0 ? tr("Move the mouse over the plot for values; "
                                               "double-click to pick a rank.")
                                          : QString());
        return;
    }
    m_rankLine->point1->setCoords(double(rank), 0);
    m_rankLine->point2->setCoords(double(rank), 1);
    m_rankLabel->position->setCoords(double(rank), 0.02);
    m_rankLabel->setText(tr("r = %1 (%2)").arg(rank).arg(m_ranksLabel));
    // Attached only now: a tracer complains on every position update of an empty graph.
    m_svdTracer->setGraph(m_svd);
    m_eoraTracer->setGraph(m_eora);
    m_svdTracer->setGraphKey(double(rank));
    m_eoraTracer->setGraphKey(double(rank));
    m_readout->setText(tr("<b>Chosen rank (%1)</b> %2")
                           .arg(m_ranksLabel.toHtmlEscaped(), readout(int(rank)).toHtmlEscaped()));
}

void CurveView::updateTotal() {
    const Total t = total();
    if (t.layers == 0) {
        m_total->setText(m_layers.empty() ? QString()
                                          : tr("<i>No ranks chosen: pick a variant or a rank "
                                               "plan to see the predicted model total.</i>"));
        return;
    }
    const auto both = [this, &t](double absolute) {
        // Factors replace the weight itself (dW = W): both normalisations are the same.
        if (m_pair == Pair::LowRank)
            return tr("%1 relative output error")
                .arg(percent(t.normalized(absolute, Normalization::RelativeOutput)));
        return tr("%1 of compression error left, %2 relative output error")
            .arg(percent(t.normalized(absolute, Normalization::ErrorLeft)),
                 percent(t.normalized(absolute, Normalization::RelativeOutput)));
    };
    m_total->setText(tr("<b>Predicted model total</b> at the ranks of %1 (%n layer(s), %2 adapter "
                        "parameters):<br>%5: %3<br>%6: %4",
                        nullptr, t.layers)
                         .arg(m_ranksLabel.toHtmlEscaped(), QLocale().toString(t.adapterParameters),
                              both(t.eora), both(t.svd), eoraName(), svdName()));
}

void CurveView::hover(QMouseEvent* event) {
    if (m_current < 0)
        return;
    const auto rank = int(std::lround(m_plot->xAxis->pixelToCoord(event->position().x())));
    const QString text = readout(rank);
    m_hoverLine->setVisible(!text.isEmpty());
    if (text.isEmpty()) {
        updateMarker();
    } else {
        m_hoverLine->point1->setCoords(double(rank), 0);
        m_hoverLine->point2->setCoords(double(rank), 1);
        m_readout->setText(text.toHtmlEscaped());
    }
    m_plot->setToolTip(text);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool CurveView::eventFilter(QObject* watched, QEvent* event) {
    // Leaving the plot brings the readout back to the chosen rank.
    if (watched == m_plot && event->type() == QEvent::Leave && m_hoverLine->visible()) {
        m_hoverLine->setVisible(false);
        updateMarker();
        m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace rs::ui
