#include "layerview.h"

#include "layertablemodel.h"

#include <QCollator>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace rs::ui {

namespace {

// Sorts names numerically ("layers.2" before "layers.10"); numbers compare as numbers through
// LayerTableModel::SortRole.
class LayerSortProxy : public QSortFilterProxyModel {
public:
    explicit LayerSortProxy(QObject* parent)
        : QSortFilterProxyModel(parent) {
        m_collator.setNumericMode(true);
        m_collator.setCaseSensitivity(Qt::CaseInsensitive);
    }

protected:
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override {
        const QVariant a = left.data(sortRole());
        const QVariant b = right.data(sortRole());
        if (a.typeId() == QMetaType::QString && b.typeId() == QMetaType::QString)
            return m_collator.compare(a.toString(), b.toString()) < 0;
        return QSortFilterProxyModel::lessThan(left, right);
    }

private:
    QCollator m_collator;
};

} // namespace

LayerView::LayerView(LayerTableModel* model, QWidget* parent)
    : QWidget(parent)
    , m_model(model)
    , m_proxy(new LayerSortProxy(this))
    , m_filter(new QLineEdit(this))
    , m_count(new QLabel(this))
    , m_table(new QTableView(this)) {
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(LayerTableModel::SortRole);
    m_proxy->setFilterKeyColumn(LayerTableModel::Name);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);

    m_filter->setObjectName(QStringLiteral("layerFilter"));
    m_filter->setPlaceholderText(tr("Filter layers by name, e.g. q_proj or layers.3."));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setFilterFixedString(text.trimmed());
        updateCount();
    });

    m_table->setObjectName(QStringLiteral("layerTable"));
    m_table->setModel(m_proxy);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    // No sort indicator until the user clicks a header: the model's own order is block order.
    m_table->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
    m_table->setSortingEnabled(true);
    m_table->horizontalHeader()->setHighlightSections(false);
    m_table->horizontalHeader()->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);

    m_count->setObjectName(QStringLiteral("layerCount"));

    auto* filterRow = new QHBoxLayout;
    filterRow->addWidget(m_filter, 1);
    filterRow->addWidget(m_count);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addLayout(filterRow);
    layout->addWidget(m_table, 1);

    connect(m_model, &QAbstractItemModel::modelReset, this, [this] {
        fitColumns();
        updateCount();
    });
    fitColumns();
    updateCount();
}

void LayerView::updateCount() {
    const int total = m_model->rowCount();
    const int shown = m_proxy->rowCount();
    if (total == 0) {
        m_count->clear();
        return;
    }
    // A model has many linears, so the plural reads right.
    m_count->setText(shown == total ? tr("%1 layers").arg(total)
                                    : tr("%1 of %2 layers").arg(shown).arg(total));
}

void LayerView::fitColumns() {
    QHeaderView* header = m_table->horizontalHeader();
    // The name takes what is left; the short columns fit their contents once per model, which
    // keeps resizing cheap for models with thousands of layers.
    m_table->resizeColumnsToContents();
    for (int c = 0; c < LayerTableModel::ColumnCount; ++c)
        header->setSectionResizeMode(c, QHeaderView::Interactive);
    header->setSectionResizeMode(LayerTableModel::Name, QHeaderView::Stretch);
    for (int c = LayerTableModel::Block; c < LayerTableModel::ColumnCount; ++c)
        header->resizeSection(c, header->sectionSize(c) + 16);
}

} // namespace rs::ui
