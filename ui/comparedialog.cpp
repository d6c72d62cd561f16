#include "comparedialog.h"

#include "plotexport.h"
#include "plotstyle.h"
#include "utf8.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <algorithm>
#include <map>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

// Changes shown in colour: better than the baseline green, worse red.
const QColor kBetter(0x1a, 0x7f, 0x37);
const QColor kWorse(0xb0, 0x00, 0x20);

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

QTableWidgetItem* numberItem(const std::optional<double>& value, int decimals) {
    return item(value ? QString::number(*value, 'f', decimals) : QStringLiteral("–"), false,
                Qt::AlignRight | Qt::AlignVCenter);
}

QTableWidget* table(int columns) {
    auto* t = new QTableWidget(0, columns);
    t->verticalHeader()->hide();
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setAlternatingRowColors(true);
    return t;
}

// The comparison's setting keys (English in the core) in the interface language.
QString settingName(const std::string& key) {
    static const std::map<std::string, const char*> names = {
        {"name", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "name")},
        {"status", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "status")},
        {"model", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "model")},
        {"calibration text", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "calibration text")},
        {"calibration mode", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "calibration mode")},
        {"calibration tokens", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "calibration tokens")},
        {"compression", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "compression")},
        {"compensation", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "compensation")},
        {"ranks", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "ranks")},
        {"evaluation text", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "evaluation text")},
        {"statistics", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "statistics")},
        {"calibrate time", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "calibrate time")},
        {"compress time", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "compress time")},
        {"evaluate time", QT_TRANSLATE_NOOP("rs::ui::CompareDialog", "evaluate time")},
    };
    const auto it = names.find(key);
    return it == names.end() ? fromUtf8(key) : CompareDialog::tr(it->second);
}

void fillRows(QTableWidget* t, const std::vector<rs::SettingRow>& rows) {
    for (const rs::SettingRow& row : rows) {
        const int r = t->rowCount();
        t->insertRow(r);
        const bool differs = row.differs();
        t->setItem(
            r, 0,
            item((differs ? QStringLiteral("✱ ") : QString()) + settingName(row.key), differs));
        for (size_t i = 0; i < row.values.size(); ++i)
            t->setItem(r, int(i) + 1, item(fromUtf8(row.values[i]), differs));
    }
    t->resizeColumnsToContents();
    for (int c = 1; c < t->columnCount(); ++c)
        t->horizontalHeader()->setSectionResizeMode(c, QHeaderView::Stretch);
}

// A table as tall as its rows, so that a short one takes no more room than it needs.
void fitHeightToRows(QTableWidget* t) {
    int height = t->horizontalHeader()->sizeHint().height() + 2 * t->frameWidth();
    for (int r = 0; r < t->rowCount(); ++r)
        height += t->rowHeight(r);
    t->setMaximumHeight(height);
    t->setMinimumHeight(std::min(height, 4 * t->verticalHeader()->defaultSectionSize()));
}

} // namespace

CompareDialog::CompareDialog(const rs::ExperimentComparison& c, QWidget* parent)
    : QDialog(parent)
    , m_comparison(c)
    , m_baseline(new QComboBox)
    , m_differencesOnly(new QCheckBox(tr("Only settings that differ")))
    , m_settings(table(int(c.ids.size()) + 1))
    , m_costs(table(int(c.ids.size()) + 1))
    , m_metrics(table(1 + 3 * int(c.ids.size()) - 1)) {
    setObjectName(QStringLiteral("compareDialog"));
    QStringList names;
    for (const int64_t id : c.ids)
        names << QString::number(id);
    setWindowTitle(tr("Compare experiments %1").arg(names.join(QStringLiteral(", "))));
    m_settings->setObjectName(QStringLiteral("compareSettings"));
    m_costs->setObjectName(QStringLiteral("compareCosts"));
    m_metrics->setObjectName(QStringLiteral("compareMetrics"));
    m_baseline->setObjectName(QStringLiteral("compareBaseline"));
    m_differencesOnly->setObjectName(QStringLiteral("compareDifferencesOnly"));
    for (const int64_t id : c.ids)
        m_baseline->addItem(tr("Experiment %1").arg(id));
    m_baseline->setToolTip(tr("Changes are each experiment's value minus the baseline's"));

    fillRows(m_settings, c.settings);
    fillRows(m_costs, c.costs);
    fitHeightToRows(m_costs);
    fillSettingHeaders();
    fillMetrics();
    connect(m_baseline, &QComboBox::currentIndexChanged, this, [this] {
        fillSettingHeaders();
        fillMetrics();
    });
    connect(m_differencesOnly, &QCheckBox::toggled, this, &CompareDialog::showOnlyDifferences);

    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Baseline:")));
    controls->addWidget(m_baseline);
    controls->addSpacing(16);
    controls->addWidget(m_differencesOnly);
    controls->addStretch(1);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(new QLabel(tr("<b>Settings</b> (✱ marks those that differ)")));
    layout->addWidget(m_settings, 3);
    layout->addWidget(new QLabel(tr("<b>Cost</b>: stage times and cached statistics")));
    layout->addWidget(m_costs);
    layout->addWidget(new QLabel(tr("<b>Results</b>: Δ is the experiment's perplexity minus the "
                                    "baseline's; negative (green) is better")));
    layout->addWidget(m_metrics, 2);
    layout->addWidget(buttons);
    resize(960, 720);
}

void CompareDialog::fillSettingHeaders() {
    const int baseline = m_baseline->currentIndex();
    QStringList headers{tr("Setting")};
    for (size_t i = 0; i < m_comparison.ids.size(); ++i)
        headers << (int(i) == baseline ? tr("Experiment %1 (baseline)") : tr("Experiment %1"))
                       .arg(m_comparison.ids[i]);
    m_settings->setHorizontalHeaderLabels(headers);
    headers[0] = tr("Cost");
    m_costs->setHorizontalHeaderLabels(headers);
}

void CompareDialog::fillMetrics() {
    const size_t n = m_comparison.ids.size();
    const size_t baseline = size_t(std::max(0, m_baseline->currentIndex()));
    QStringList headers{tr("Variant")};
    for (size_t i = 0; i < n; ++i)
        headers
            << (i == baseline ? tr("PPL %1 (baseline)") : tr("PPL %1")).arg(m_comparison.ids[i]);
    for (size_t i = 0; i < n; ++i)
        if (i != baseline)
            headers << tr("Δ PPL %1").arg(m_comparison.ids[i]);
    for (size_t i = 0; i < n; ++i)
        headers << tr("Mean error %1").arg(m_comparison.ids[i]);
    m_metrics->setRowCount(0);
    m_metrics->setHorizontalHeaderLabels(headers);
    for (const rs::MetricRow& row : m_comparison.metrics) {
        const int r = m_metrics->rowCount();
        m_metrics->insertRow(r);
        int column = 0;
        m_metrics->setItem(r, column++, item(fromUtf8(row.label)));
        for (size_t i = 0; i < n; ++i)
            m_metrics->setItem(r, column++, numberItem(row.perplexity[i], 4));
        for (size_t i = 0; i < n; ++i) {
            if (i == baseline)
                continue;
            const std::optional<double> change = row.perplexityChange(i, baseline);
            auto* cell = item(change ? QString::asprintf("%+.4f", *change) : QStringLiteral("–"),
                              false, Qt::AlignRight | Qt::AlignVCenter);
            if (change && *change != 0.0)
                cell->setForeground(*change < 0 ? kBetter : kWorse);
            m_metrics->setItem(r, column++, cell);
        }
        for (size_t i = 0; i < n; ++i)
            m_metrics->setItem(r, column++, numberItem(row.meanError[i], 5));
    }
    m_metrics->resizeColumnsToContents();
    m_metrics->horizontalHeader()->setStretchLastSection(true);
}

void CompareDialog::showOnlyDifferences(bool only) {
    for (QTableWidget* t : {m_settings, m_costs})
        for (int r = 0; r < t->rowCount(); ++r)
            t->setRowHidden(r, only && !t->item(r, 0)->text().startsWith(QStringLiteral("✱")));
}

void CompareDialog::setLayers(std::vector<std::vector<rs::LayerRecord>> layers) {
    m_layers = std::move(layers);
    m_layers.resize(m_comparison.ids.size());
    if (!m_plot) {
        m_layerBox = new QComboBox;
        m_layerBox->setObjectName(QStringLiteral("compareLayer"));
        m_plot = new QCustomPlot;
        m_plot->setObjectName(QStringLiteral("compareCurves"));
        m_plot->setMinimumHeight(240);
        plotstyle::apply(m_plot);
        PlotExport::attachContextMenu(m_plot, QStringLiteral("compare-curves"));
        auto* row = new QHBoxLayout;
        row->addWidget(new QLabel(tr("Error curves of layer:")));
        row->addWidget(m_layerBox, 1);
        auto* box = static_cast<QVBoxLayout*>(layout());
        box->insertLayout(box->count() - 1, row);
        box->insertWidget(box->count() - 1, m_plot, 3);
        connect(m_layerBox, &QComboBox::currentIndexChanged, this, &CompareDialog::showCurves);
        resize(width(), 960);
    }
    const QSignalBlocker block(m_layerBox);
    m_layerBox->clear();
    // Every layer that at least one experiment has curves for, in the first one's order.
    QStringList names;
    for (const std::vector<rs::LayerRecord>& experiment : m_layers)
        for (const rs::LayerRecord& layer : experiment)
            if (!layer.curveEora.empty() && !names.contains(fromUtf8(layer.name)))
                names << fromUtf8(layer.name);
    m_layerBox->addItems(names);
    showCurves();
}

void CompareDialog::showCurves() {
    m_plot->clearGraphs();
    const std::string name = m_layerBox->currentText().toStdString();
    double top = 0.0;
    int series = 0;
    const auto add = [&](const rs::LayerRecord& layer, const std::vector<double>& curve,
                         const QString& label, Qt::PenStyle style, int color) {
        if (curve.empty() || !(layer.outputEnergy > 0))
            return;
        QCPGraph* graph = m_plot->addGraph();
        graph->setName(label);
        graph->setPen(QPen(plotstyle::seriesColor(color), 2.0, style));
        for (size_t r = 0; r < curve.size(); ++r) {
            const double y = curve[r] / layer.outputEnergy;
            graph->addData(double(r), y);
            top = std::max(top, y);
        }
        ++series;
    };
    for (size_t i = 0; i < m_layers.size(); ++i) {
        const auto it = std::find_if(m_layers[i].begin(), m_layers[i].end(),
                                     [&](const rs::LayerRecord& l) { return l.name == name; });
        if (it == m_layers[i].end())
            continue;
        const qint64 id = m_comparison.ids[i];
        add(*it, it->curveEora, tr("%1: EoRA").arg(id), Qt::SolidLine, int(i));
        add(*it, it->curveSvd, tr("%1: SVD").arg(id), Qt::DashLine, int(i));
    }
    m_plot->xAxis->setLabel(tr("rank r"));
    m_plot->yAxis->setLabel(tr("relative output error E(r) / tr(W C Wᵀ)"));
    m_plot->legend->setVisible(series > 0);
    m_plot->rescaleAxes();
    m_plot->yAxis->setRange(0, top > 0 ? top * 1.05 : 1.0);
    m_plot->replot();
}

} // namespace rs::ui
