#include "distillationview.h"

#include "plotexport.h"
#include "plotstyle.h"
#include "utf8.h"

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

const QColor kTrainColor = plotstyle::seriesColor(9); // grey: the noisy per-batch loss
const QColor kCheckedColor = plotstyle::seriesColor(0);

QString number(double value) {
    return QLocale().toString(value, 'g', 4);
}

// Steps 1..n of the training loss; a non-positive value is not drawn on a log axis.
void setSeries(QCPGraph* graph, QVector<double> keys, QVector<double> values, bool log) {
    if (log)
        for (double& v : values)
            v = v > 0 ? v : std::nan("");
    graph->setData(keys, values, true);
}

// The checked loss at the kept step (the lowest), and at step 0 (the SVD initialisation).
double checkedAt(const rs::DistillationRecord& record, int64_t step) {
    for (size_t i = 0; i < record.evalSteps.size() && i < record.evalLoss.size(); ++i)
        if (record.evalSteps[i] == step)
            return record.evalLoss[i];
    return std::nan("");
}

} // namespace

DistillationView::DistillationView(QWidget* parent)
    : QWidget(parent)
    , m_variantCombo(new QComboBox(this))
    , m_variantLabel(new QLabel(tr("Variant:"), this))
    , m_blockCombo(new QComboBox(this))
    , m_logBox(new QCheckBox(tr("Log scale"), this))
    , m_plot(new QCustomPlot)
    , m_summary(new QLabel(this)) {
    m_variantCombo->setObjectName(QStringLiteral("distillationVariant"));
    m_variantCombo->setToolTip(tr("The rank allocation whose distillation is shown"));
    connect(m_variantCombo, &QComboBox::activated, this,
            [this](int index) { showVariant(m_variantCombo->itemData(index).toInt()); });
    m_blockCombo->setObjectName(QStringLiteral("distillationBlock"));
    m_blockCombo->setToolTip(tr("One decoder block with its training loss, or the checked losses "
                                "of every block"));
    connect(m_blockCombo, &QComboBox::activated, this,
            [this](int index) { showBlock(m_blockCombo->itemData(index).toLongLong()); });
    m_logBox->setToolTip(tr("Logarithmic loss axis"));
    connect(m_logBox, &QCheckBox::toggled, this, &DistillationView::setLogScale);

    auto* bar = new QHBoxLayout;
    bar->addWidget(m_variantLabel);
    bar->addWidget(m_variantCombo);
    bar->addWidget(new QLabel(tr("Block:")));
    bar->addWidget(m_blockCombo);
    bar->addWidget(m_logBox);
    bar->addStretch(1);
    bar->addWidget(PlotExport::createButton(m_plot, QStringLiteral("distillation"), this));

    setupPlot();
    m_summary->setObjectName(QStringLiteral("distillationSummary"));
    m_summary->setWordWrap(true);

    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(m_plot, 1);
    contentLayout->addWidget(m_summary);
    m_stack = plotstyle::emptyStateStack(content, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack);
    clear();
}

void DistillationView::setupPlot() {
    m_plot->setObjectName(QStringLiteral("distillationPlot"));
    plotstyle::apply(m_plot);
    m_plot->xAxis->setLabel(tr("optimiser step"));
    m_plot->yAxis->setLabel(tr("local loss  mean|h_s − h_t| − log σ(cos(h_s, h_t))"));
    m_plot->legend->setVisible(true);
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_title = plotstyle::addTitle(m_plot);
    m_bestLine = new QCPItemStraightLine(m_plot);
    m_bestLine->setPen(QPen(QColor(0x55, 0x55, 0x55), 1.2, Qt::DashLine));
    m_bestLabel = new QCPItemText(m_plot);
    m_bestLabel->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_bestLabel->setPadding(QMargins(4, 4, 4, 4));
    PlotExport::attachContextMenu(m_plot, QStringLiteral("distillation"));
}

void DistillationView::clear() {
    setRecords({}, {});
}

void DistillationView::setRecords(std::vector<rs::DistillationRecord> records,
                                  std::vector<rs::VariantRecord> variants) {
    m_records = std::move(records);
    m_variants = std::move(variants);
    m_variantCombo->clear();
    std::vector<int> withRecords;
    for (const rs::DistillationRecord& r : m_records)
        if (std::find(withRecords.begin(), withRecords.end(), r.variant) == withRecords.end())
            withRecords.push_back(r.variant);
    for (int variant : withRecords)
        m_variantCombo->addItem(variantLabel(variant), variant);
    // One variant needs no choice.
    m_variantCombo->setVisible(withRecords.size() > 1);
    m_variantLabel->setVisible(withRecords.size() > 1);
    m_variant = -1;
    m_block = kAllBlocks;
    if (withRecords.empty()) {
        m_blockCombo->clear();
        m_plot->clearGraphs();
        plotstyle::showEmpty(m_stack, tr("No distillation recorded"),
                             tr("Lillama runs record each decoder block's local distillation "
                                "losses here. Run one from the run panel (job: low-rank "
                                "replacement, method: Lillama) or with rankscope-cli lowrank "
                                "MODEL --method lillama, then open it in the Experiments tab."));
        return;
    }
    plotstyle::showContent(m_stack);
    showVariant(withRecords.front());
}

QString DistillationView::variantLabel(int variant) const {
    for (const rs::VariantRecord& v : m_variants)
        if (v.index == variant && !v.label.empty())
            return fromUtf8(v.label);
    return tr("variant %1").arg(variant + 1);
}

bool DistillationView::showVariant(int variant) {
    if (!std::any_of(m_records.begin(), m_records.end(),
                     [&](const rs::DistillationRecord& r) { return r.variant == variant; }))
        return false;
    m_variant = variant;
    m_variantCombo->setCurrentIndex(m_variantCombo->findData(variant));
    rebuildBlockCombo();
    if (m_block != kAllBlocks && !recordOf(m_block))
        m_block = kAllBlocks;
    rebuild();
    return true;
}

bool DistillationView::showBlock(int64_t block) {
    if (m_variant < 0 || (block != kAllBlocks && !recordOf(block)))
        return false;
    m_block = block;
    rebuild();
    return true;
}

void DistillationView::setLogScale(bool log) {
    if (m_log == log)
        return;
    m_log = log;
    m_logBox->setChecked(log);
    rebuild();
}

std::vector<const rs::DistillationRecord*> DistillationView::recordsOfVariant() const {
    std::vector<const rs::DistillationRecord*> out;
    for (const rs::DistillationRecord& r : m_records)
        if (r.variant == m_variant)
            out.push_back(&r);
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->block < b->block; });
    return out;
}

const rs::DistillationRecord* DistillationView::recordOf(int64_t block) const {
    for (const rs::DistillationRecord* r : recordsOfVariant())
        if (r->block == block)
            return r;
    return nullptr;
}

void DistillationView::rebuildBlockCombo() {
    m_blockCombo->clear();
    m_blockCombo->addItem(tr("All blocks"), qlonglong(kAllBlocks));
    for (const rs::DistillationRecord* r : recordsOfVariant())
        m_blockCombo->addItem(tr("Block %1").arg(r->block), qlonglong(r->block));
}

void DistillationView::rebuild() {
    if (m_variant < 0)
        return;
    m_blockCombo->setCurrentIndex(m_blockCombo->findData(qlonglong(m_block)));
    m_plot->clearGraphs();
    if (const rs::DistillationRecord* record = m_block == kAllBlocks ? nullptr : recordOf(m_block))
        plotBlock(*record);
    else
        plotAllBlocks();
    m_plot->yAxis->setScaleType(m_log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (m_log)
        plotstyle::makeLogAxis(m_plot->yAxis);
    else {
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        m_plot->yAxis->setNumberFormat(QStringLiteral("g"));
        m_plot->yAxis->setNumberPrecision(4);
    }
    m_plot->rescaleAxes();
    const QCPRange x = m_plot->xAxis->range();
    m_plot->xAxis->setRange(std::min(0.0, x.lower) - 0.5, x.upper + 0.5);
    const QCPRange y = m_plot->yAxis->range();
    if (m_log)
        m_plot->yAxis->setRange(y.lower / 1.2, y.upper * 1.2);
    else
        m_plot->yAxis->setRange(y.lower - 0.05 * y.size(), y.upper + 0.05 * y.size());
    m_plot->replot();
}

void DistillationView::plotBlock(const rs::DistillationRecord& record) {
    m_title->setText(tr("Block %1 · %2").arg(record.block).arg(variantLabel(record.variant)));
    QVector<double> steps, train;
    for (size_t i = 0; i < record.trainLoss.size(); ++i) {
        steps << double(i + 1);
        train << record.trainLoss[i];
    }
    QCPGraph* trainGraph = m_plot->addGraph();
    trainGraph->setName(tr("training loss (each step's batch)"));
    trainGraph->setPen(QPen(kTrainColor, 1.0));
    setSeries(trainGraph, steps, train, m_log);

    QVector<double> checkedSteps, checked;
    for (size_t i = 0; i < record.evalSteps.size() && i < record.evalLoss.size(); ++i) {
        checkedSteps << double(record.evalSteps[i]);
        checked << record.evalLoss[i];
    }
    QCPGraph* checkedGraph = m_plot->addGraph();
    checkedGraph->setName(tr("checked loss (step 0: SVD initialisation)"));
    checkedGraph->setPen(QPen(kCheckedColor, 2.2));
    checkedGraph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    setSeries(checkedGraph, checkedSteps, checked, m_log);

    const double initial = checkedAt(record, 0);
    const double best = checkedAt(record, record.bestStep);
    m_bestLine->setVisible(true);
    m_bestLine->point1->setCoords(double(record.bestStep), 0);
    m_bestLine->point2->setCoords(double(record.bestStep), 1);
    m_bestLabel->setVisible(true);
    // At the foot of the line (losses fall, the legend sits top right), on the side with room.
    const bool rightHalf = 2 * record.bestStep > int64_t(record.trainLoss.size());
    m_bestLabel->setPositionAlignment((rightHalf ? Qt::AlignRight : Qt::AlignLeft) |
                                      Qt::AlignBottom);
    m_bestLabel->position->setTypeX(QCPItemPosition::ptPlotCoords);
    m_bestLabel->position->setCoords(double(record.bestStep), 0.98);
    m_bestLabel->setText(tr("kept: step %1").arg(record.bestStep));

    QString summary = tr("Block %1: %2 optimiser steps in %3 s; the weights of step %4 were kept")
                          .arg(record.block)
                          .arg(record.trainLoss.size())
                          .arg(QLocale().toString(record.seconds, 'f', 2))
                          .arg(record.bestStep);
    if (std::isfinite(initial) && std::isfinite(best) && initial > 0)
        summary += tr(" (checked loss %1 at the SVD initialisation, %2 kept: %3 % lower).")
                       .arg(number(initial), number(best),
                            QLocale().toString(100.0 * (1.0 - best / initial), 'f', 1));
    else
        summary += QLatin1Char('.');
    m_summary->setText(summary);
}

void DistillationView::plotAllBlocks() {
    m_title->setText(tr("Checked loss of every block · %1").arg(variantLabel(m_variant)));
    m_bestLine->setVisible(false);
    m_bestLabel->setVisible(false);
    double seconds = 0, lowered = 0;
    int compared = 0;
    const auto records = recordsOfVariant();
    for (const rs::DistillationRecord* r : records) {
        QVector<double> steps, losses;
        for (size_t i = 0; i < r->evalSteps.size() && i < r->evalLoss.size(); ++i) {
            steps << double(r->evalSteps[i]);
            losses << r->evalLoss[i];
        }
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(tr("block %1").arg(r->block));
        graph->setPen(QPen(plotstyle::seriesColor(int(r->block)), 1.8));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
        setSeries(graph, steps, losses, m_log);
        seconds += r->seconds;
        const double initial = checkedAt(*r, 0), best = checkedAt(*r, r->bestStep);
        if (std::isfinite(initial) && std::isfinite(best) && initial > 0) {
            lowered += 1.0 - best / initial;
            ++compared;
        }
    }
    QString summary = tr("Blocks distilled: %1, in %2 s.")
                          .arg(records.size())
                          .arg(QLocale().toString(seconds, 'f', 1));
    if (compared > 0)
        summary += QLatin1Char(' ') +
                   tr("The kept weights lower the checked loss of the SVD initialisation by %1 % "
                      "on average.")
                       .arg(QLocale().toString(100.0 * lowered / compared, 'f', 1));
    m_summary->setText(summary);
}

} // namespace rs::ui
