#include "runresults.h"

#include "experimentloader.h"
#include "utf8.h"

#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QVBoxLayout>
#include <optional>

namespace rs::ui {

namespace {

enum Column { VariantColumn, PerplexityColumn, ChangeColumn, AdapterColumn, ColumnCount };

// A serialized method ("rtn:bits=3,group=32") with room to wrap after each parameter, so that a
// long one never forces a narrow panel wider.
QString wrappable(const std::string& config) {
    return fromUtf8(config).replace(QLatin1Char(','), QStringLiteral(", "));
}

QString joined(const std::vector<std::string>& items) {
    QStringList list;
    for (const std::string& item : items)
        list << wrappable(item);
    return list.join(QStringLiteral("; "));
}

} // namespace

RunResults::RunResults(QWidget* parent)
    : QWidget(parent)
    , m_title(new QLabel)
    , m_table(new QTableWidget(0, ColumnCount)) {
    setObjectName(QStringLiteral("runResults"));
    m_title->setObjectName(QStringLiteral("runResultsTitle"));
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_table->setObjectName(QStringLiteral("runResultsTable"));
    m_table->setHorizontalHeaderLabels(
        {tr("Model"), tr("Perplexity"), tr("vs none"), tr("Adapter")});
    m_table->horizontalHeaderItem(ChangeColumn)
        ->setToolTip(tr("Change of perplexity against the compressed model without compensation"));
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionMode(QAbstractItemView::NoSelection);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_title);
    layout->addWidget(m_table);
    clear();
}

QString RunResults::headline(const LoadedExperiment& loaded) {
    const rs::ExperimentRecord& e = loaded.experiment;
    QString text = tr("Experiment %1").arg(loaded.id);
    if (!e.name.empty())
        text += tr(" “%1”").arg(fromUtf8(e.name));
    text += QStringLiteral(" · ") + wrappable(e.compression);
    if (!e.compensations.empty())
        text += QStringLiteral(" + ") + joined(e.compensations);
    text += QStringLiteral(" · ") + fromUtf8(rs::statusName(e.status));
    if (!e.finished.empty())
        text += QStringLiteral(" ") + fromUtf8(e.finished);
    return text;
}

void RunResults::clear() {
    m_title->clear();
    m_table->setRowCount(0);
    hide();
}

void RunResults::showExperiment(const LoadedExperiment& loaded) {
    m_title->setText(headline(loaded));
    m_table->setRowCount(0);
    std::optional<double> original, uncompensated;
    for (const rs::EvaluationRecord& e : loaded.evaluations) {
        if (!e.variant)
            original = e.perplexity;
        else if (size_t(*e.variant) < loaded.variants.size() &&
                 loaded.variants[size_t(*e.variant)].compensation == "none")
            uncompensated = e.perplexity;
    }
    const double reference = uncompensated.value_or(0.0);
    if (original)
        addRow(tr("original model"), *original, reference, -1);
    for (const rs::EvaluationRecord& e : loaded.evaluations) {
        if (!e.variant || size_t(*e.variant) >= loaded.variants.size())
            continue;
        const rs::VariantRecord& v = loaded.variants[size_t(*e.variant)];
        addRow(fromUtf8(v.label), e.perplexity, reference, v.adapterParameters);
    }
    if (loaded.evaluations.empty()) {
        m_table->setRowCount(1);
        auto* item = new QTableWidgetItem(tr("not evaluated (no evaluation text)"));
        m_table->setItem(0, VariantColumn, item);
    }
    // Every row visible without scrolling, up to a dozen.
    const int rows = std::min(m_table->rowCount(), 12);
    m_table->setFixedHeight(m_table->horizontalHeader()->sizeHint().height() +
                            rows * m_table->verticalHeader()->defaultSectionSize() +
                            2 * m_table->frameWidth());
    show();
}

void RunResults::addRow(const QString& label, double perplexity, double reference, qint64 adapter) {
    const QLocale locale;
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    m_table->setItem(row, VariantColumn, new QTableWidgetItem(label));
    auto* ppl = new QTableWidgetItem(locale.toString(perplexity, 'f', 3));
    ppl->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_table->setItem(row, PerplexityColumn, ppl);
    QString change;
    if (reference > 0 && adapter >= 0)
        change = locale.toString(100.0 * (perplexity - reference) / reference, 'f', 1) +
                 QStringLiteral(" %");
    auto* changeItem = new QTableWidgetItem(change);
    changeItem->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_table->setItem(row, ChangeColumn, changeItem);
    auto* size = new QTableWidgetItem(adapter > 0 ? locale.toString(adapter) : QString());
    size->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    m_table->setItem(row, AdapterColumn, size);
}

} // namespace rs::ui
