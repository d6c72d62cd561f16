#include "comparedialog.h"

#include "plotexport.h"
#include "plotstyle.h"
#include "utf8.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

QTableWidgetItem* item(const QString& text, bool bold = false,
                       Qt::Alignment align = Qt::AlignLeft | Qt::AlignVCenter) {
    auto* it = new QTableWidgetItem(text);
    it->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
    it->setTextAlignment(align);
    if (bold) {
        QFont font = it->font();
        font.setBold(true);
        it->setFont(font);
    }
    return it;
}

QString number(const std::optional<double>& value, int decimals) {
    return value ? QString::number(*value, 'f', decimals) : QStringLiteral("–");
}

QTableWidget* table(int columns, const QStringList& headers) {
    auto* t = new QTableWidget(0, columns);
    t->setHorizontalHeaderLabels(headers);
    t->verticalHeader()->hide();
    t->horizontalHeader()->setStretchLastSection(true);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setAlternatingRowColors(true);
    return t;
}

} // namespace

CompareDialog::CompareDialog(const rs::ExperimentComparison& c, QWidget* parent)
    : QDialog(parent)
    , m_comparison(c)
    , m_settings(table(
          3, {tr("Setting"), tr("Experiment %1 (A)").arg(c.a), tr("Experiment %1 (B)").arg(c.b)}))
    , m_metrics(table(6, {tr("Variant"), tr("PPL A"), tr("PPL B"), tr("B − A"), tr("Mean error A"),
                          tr("Mean error B")})) {
    setObjectName(QStringLiteral("compareDialog"));
    setWindowTitle(tr("Compare experiments %1 and %2").arg(c.a).arg(c.b));
    m_settings->setObjectName(QStringLiteral("compareSettings"));
    m_metrics->setObjectName(QStringLiteral("compareMetrics"));

    const Qt::Alignment right = Qt::AlignRight | Qt::AlignVCenter;
    for (const rs::SettingRow& row : c.settings) {
        const int r = m_settings->rowCount();
        m_settings->insertRow(r);
        const bool differs = row.differs();
        m_settings->setItem(
            r, 0, item((differs ? QStringLiteral("✱ ") : QString()) + fromUtf8(row.key), differs));
        m_settings->setItem(r, 1, item(fromUtf8(row.a), differs));
        m_settings->setItem(r, 2, item(fromUtf8(row.b), differs));
    }
    for (const rs::MetricRow& row : c.metrics) {
        const int r = m_metrics->rowCount();
        m_metrics->insertRow(r);
        m_metrics->setItem(r, 0, item(fromUtf8(row.label)));
        m_metrics->setItem(r, 1, item(number(row.perplexityA, 4), false, right));
        m_metrics->setItem(r, 2, item(number(row.perplexityB, 4), false, right));
        QString delta = QStringLiteral("–");
        if (row.perplexityA && row.perplexityB)
            delta = QString::asprintf("%+.4f", *row.perplexityB - *row.perplexityA);
        m_metrics->setItem(r, 3, item(delta, false, right));
        m_metrics->setItem(r, 4, item(number(row.meanErrorA, 5), false, right));
        m_metrics->setItem(r, 5, item(number(row.meanErrorB, 5), false, right));
    }
    m_settings->resizeColumnsToContents();
    m_metrics->resizeColumnsToContents();
    m_settings->horizontalHeader()->setStretchLastSection(false);
    m_settings->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_settings->horizontalHeader()->setSectionResizeMode(2, QHeaderView::Stretch);
    m_metrics->horizontalHeader()->setStretchLastSection(false);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    auto* legend = new QLabel(tr("✱ marks the settings that differ."));
    layout->addWidget(m_settings, 3);
    layout->addWidget(legend);
    layout->addWidget(m_metrics, 2);
    layout->addWidget(buttons);
    resize(900, 640);
}

void CompareDialog::setLayers(std::vector<rs::LayerRecord> a, std::vector<rs::LayerRecord> b) {
    m_a = std::move(a);
    m_b = std::move(b);
    if (!m_plot) {
        m_layerBox = new QComboBox;
        m_layerBox->setObjectName(QStringLiteral("compareLayer"));
        m_plot = new QCustomPlot;
        m_plot->setObjectName(QStringLiteral("compareCurves"));
        m_plot->setMinimumHeight(260);
        plotstyle::apply(m_plot);
        PlotExport::attachContextMenu(m_plot, QStringLiteral("compare-curves"));
        auto* row = new QHBoxLayout;
        row->addWidget(new QLabel(tr("Error curves of layer:")));
        row->addWidget(m_layerBox, 1);
        auto* box = static_cast<QVBoxLayout*>(layout());
        box->insertLayout(box->count() - 1, row);
        box->insertWidget(box->count() - 1, m_plot, 3);
        connect(m_layerBox, &QComboBox::currentIndexChanged, this, &CompareDialog::showCurves);
        resize(width(), 900);
    }
    const QSignalBlocker block(m_layerBox);
    m_layerBox->clear();
    for (const rs::LayerRecord& la : m_a)
        for (const rs::LayerRecord& lb : m_b)
            if (la.name == lb.name && !la.curveEora.empty() && !lb.curveEora.empty())
                m_layerBox->addItem(fromUtf8(la.name));
    showCurves();
}

void CompareDialog::showCurves() {
    m_plot->clearGraphs();
    const std::string name = m_layerBox->currentText().toStdString();
    const auto find = [&name](const std::vector<rs::LayerRecord>& layers) {
        const auto it = std::find_if(layers.begin(), layers.end(),
                                     [&](const rs::LayerRecord& l) { return l.name == name; });
        return it == layers.end() ? nullptr : &*it;
    };
    const rs::LayerRecord* la = find(m_a);
    const rs::LayerRecord* lb = find(m_b);
    double top = 0.0;
    int series = 0;
    const auto add = [&](const rs::LayerRecord* layer, const std::vector<double>& curve,
                         const QString& label, Qt::PenStyle style, int color) {
        if (!layer || curve.empty() || !(layer->outputEnergy > 0))
            return;
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(label);
        graph->setPen(QPen(plotstyle::seriesColor(color), 2.0, style));
        for (size_t r = 0; r < curve.size(); ++r) {
            const double y = curve[r] / layer->outputEnergy;
            graph->addData(double(r), y);
            top = std::max(top, y);
        }
        ++series;
    };
    add(la, la ? la->curveEora : std::vector<double>{}, tr("A (%1): EoRA").arg(m_comparison.a),
        Qt::SolidLine, 0);
    add(la, la ? la->curveSvd : std::vector<double>{}, tr("A (%1): SVD").arg(m_comparison.a),
        Qt::DashLine, 0);
    add(lb, lb ? lb->curveEora : std::vector<double>{}, tr("B (%1): EoRA").arg(m_comparison.b),
        Qt::SolidLine, 1);
    add(lb, lb ? lb->curveSvd : std::vector<double>{}, tr("B (%1): SVD").arg(m_comparison.b),
        Qt::DashLine, 1);
    m_plot->xAxis->setLabel(tr("rank r"));
    m_plot->yAxis->setLabel(tr("relative output error E(r) / tr(W C Wᵀ)"));
    m_plot->legend->setVisible(series > 0);
    m_plot->rescaleAxes();
    m_plot->yAxis->setRange(0, top > 0 ? top * 1.05 : 1.0);
    m_plot->replot();
}

} // namespace rs::ui
