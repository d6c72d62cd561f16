#include "comparedialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

namespace rs::ui {

namespace {

QString fromUtf8(const std::string& text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

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
    , m_settings(table(3, {tr("Setting"), tr("Experiment %1 (A)").arg(c.a),
                           tr("Experiment %1 (B)").arg(c.b)}))
    , m_metrics(table(6, {tr("Variant"), tr("PPL A"), tr("PPL B"), tr("B − A"),
                          tr("Mean error A"), tr("Mean error B")})) {
    setObjectName(QStringLiteral("compareDialog"));
    setWindowTitle(tr("Compare experiments %1 and %2").arg(c.a).arg(c.b));
    m_settings->setObjectName(QStringLiteral("compareSettings"));
    m_metrics->setObjectName(QStringLiteral("compareMetrics"));

    const Qt::Alignment right = Qt::AlignRight | Qt::AlignVCenter;
    for (const rs::SettingRow& row : c.settings) {
        const int r = m_settings->rowCount();
        m_settings->insertRow(r);
        const bool differs = row.differs();
        m_settings->setItem(r, 0, item((differs ? QStringLiteral("✱ ") : QString()) +
                                           fromUtf8(row.key),
                                       differs));
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

void CompareDialog::setExtraWidget(QWidget* widget) {
    auto* box = static_cast<QVBoxLayout*>(layout());
    box->insertWidget(box->count() - 1, widget, 3);
}

} // namespace rs::ui
