#include "experimentsview.h"

#include "experimentmodel.h"
#include "store/experiment_store.h"
#include "utf8.h"

#include <QDialog>
#include <QDialogButtonBox>
#include <QFile>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>
#include <algorithm>

namespace rs::ui {

ExperimentsView::ExperimentsView(QWidget* parent)
    : QWidget(parent)
    , m_model(new ExperimentModel(this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_filter(new QLineEdit)
    , m_table(new QTableView)
    , m_open(new QPushButton(tr("Open")))
    , m_compare(new QPushButton(tr("Compare")))
    , m_reuse(new QPushButton(tr("Use Settings")))
    , m_edit(new QPushButton(tr("Rename / Notes…")))
    , m_delete(new QPushButton(tr("Delete…")))
    , m_message(new QLabel) {
    setObjectName(QStringLiteral("experimentsView"));
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(Qt::EditRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_filter->setObjectName(QStringLiteral("experimentFilter"));
    m_filter->setPlaceholderText(tr("Filter by name, model, method, status…"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy,
            &QSortFilterProxyModel::setFilterFixedString);

    m_table->setObjectName(QStringLiteral("experimentTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ExperimentModel::IdColumn, Qt::DescendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        emit openRequested(index.data(ExperimentModel::IdRole).toLongLong());
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &ExperimentsView::updateButtons);
    connect(m_model, &ExperimentModel::tickedChanged, this, &ExperimentsView::updateButtons);

    m_open->setObjectName(QStringLiteral("openExperiment"));
    m_open->setToolTip(tr("Show the experiment's spectra, curves and ranks"));
    m_compare->setObjectName(QStringLiteral("compareExperiments"));
    m_compare->setToolTip(tr("Tick (or select) two or more experiments to compare their settings, "
                             "costs and metrics"));
    m_reuse->setObjectName(QStringLiteral("reuseExperiment"));
    m_reuse->setToolTip(tr("Put the experiment's settings (job, texts, methods, ranks) into the "
                           "run panel, to run it again or vary it"));
    connect(m_reuse, &QPushButton::clicked, this, [this] {
        const QList<qint64> ids = selectedIds();
        if (ids.size() == 1)
            emit reuseRequested(ids.first());
    });
    m_edit->setObjectName(QStringLiteral("editExperiment"));
    m_delete->setObjectName(QStringLiteral("deleteExperiment"));
    connect(m_open, &QPushButton::clicked, this, [this] {
        const QList<qint64> ids = selectedIds();
        if (!ids.isEmpty())
            emit openRequested(ids.first());
    });
    connect(m_compare, &QPushButton::clicked, this, [this] {
        const QList<qint64> ids = compareIds();
        if (ids.size() >= 2)
            emit compareRequested(ids);
    });
    connect(m_edit, &QPushButton::clicked, this, &ExperimentsView::editSelected);
    connect(m_delete, &QPushButton::clicked, this, &ExperimentsView::deleteSelected);
    auto* refresh = new QPushButton(tr("Refresh"));
    connect(refresh, &QPushButton::clicked, this, &ExperimentsView::refresh);

    m_message->setObjectName(QStringLiteral("experimentMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);

    // The filter gets a row of its own: beside six buttons it would shrink to a few letters.
    // The buttons take two rows, so that the view fits beside both docks on a small screen.
    auto* actions = new QHBoxLayout;
    actions->addWidget(m_open);
    actions->addWidget(m_compare);
    actions->addWidget(m_reuse);
    actions->addStretch(1);
    auto* housekeeping = new QHBoxLayout;
    housekeeping->addWidget(m_edit);
    housekeeping->addWidget(m_delete);
    housekeeping->addStretch(1);
    housekeeping->addWidget(refresh);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_filter);
    layout->addLayout(actions);
    layout->addLayout(housekeeping);
    layout->addWidget(m_table, 1);
    layout->addWidget(m_message);
    updateButtons();
}

void ExperimentsView::setDatabase(const std::filesystem::path& database) {
    m_database = database;
    refresh();
}

void ExperimentsView::showError(const QString& message) {
    m_message->setText(message);
    m_message->setStyleSheet(message.isEmpty() ? QString() : QStringLiteral("color: #b00020"));
}

void ExperimentsView::refresh() {
    const QList<qint64> selected = selectedIds();
    std::error_code error;
    if (m_database.empty() || !std::filesystem::exists(m_database, error)) {
        m_model->setExperiments({});
        showError({});
        m_message->setText(tr("No experiments yet: run a compression to record one."));
        updateButtons();
        return;
    }
    try {
        rs::ExperimentStore::Options options;
        options.readOnly = true; // a listing never writes
        auto store = rs::ExperimentStore::open(m_database, options);
        m_model->setExperiments(store->listExperiments());
        showError({});
        m_message->setText(
            tr("%n experiment(s) in %1", nullptr, m_model->rowCount())
                .arg(QFile::decodeName(QByteArray::fromStdString(m_database.string()))));
    } catch (const std::exception& e) {
        m_model->setExperiments({});
        showError(fromUtf8(e.what()));
    }
    for (const qint64 id : selected)
        selectExperiment(id);
    updateButtons();
    emit experimentsChanged();
}

QList<qint64> ExperimentsView::selectedIds() const {
    QList<qint64> ids;
    for (const QModelIndex& index : m_table->selectionModel()->selectedRows())
        ids << index.data(ExperimentModel::IdRole).toLongLong();
    return ids;
}

QList<qint64> ExperimentsView::compareIds() const {
    QList<qint64> ids = m_model->tickedIds();
    if (ids.isEmpty()) {
        ids = selectedIds();
        std::sort(ids.begin(), ids.end());
    }
    return ids;
}

void ExperimentsView::selectExperiment(qint64 id) {
    const int row = m_model->rowOf(id);
    if (row < 0)
        return;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    m_table->selectionModel()->select(index,
                                      QItemSelectionModel::Select | QItemSelectionModel::Rows);
    m_table->scrollTo(index);
}

void ExperimentsView::updateButtons() {
    const qsizetype n = m_table->selectionModel()->selectedRows().size();
    m_open->setEnabled(n >= 1);
    const qsizetype compared = compareIds().size();
    m_compare->setEnabled(compared >= 2);
    m_compare->setText(compared >= 2 ? tr("Compare (%n)", nullptr, int(compared)) : tr("Compare"));
    m_reuse->setEnabled(n == 1);
    m_edit->setEnabled(n == 1);
    m_delete->setEnabled(n >= 1);
}

bool ExperimentsView::renameExperiment(qint64 id, const QString& name, const QString& notes) {
    try {
        auto store = rs::ExperimentStore::open(m_database);
        store->rename(id, toUtf8(name), toUtf8(notes));
    } catch (const std::exception& e) {
        showError(fromUtf8(e.what()));
        return false;
    }
    refresh();
    return true;
}

bool ExperimentsView::deleteExperiment(qint64 id) {
    try {
        auto store = rs::ExperimentStore::open(m_database);
        if (!store->deleteExperiment(id)) {
            showError(tr("No experiment %1 in the store.").arg(id));
            return false;
        }
    } catch (const std::exception& e) {
        showError(fromUtf8(e.what()));
        return false;
    }
    refresh();
    return true;
}

void ExperimentsView::editSelected() {
    const QList<qint64> ids = selectedIds();
    if (ids.size() != 1)
        return;
    const int row = m_model->rowOf(ids.first());
    const rs::ExperimentRecord& e = m_model->experiments()[size_t(row)].experiment;
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Experiment %1").arg(e.id));
    auto* name = new QLineEdit(fromUtf8(e.name));
    auto* notes = new QPlainTextEdit(fromUtf8(e.notes));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    auto* form = new QFormLayout(&dialog);
    form->addRow(tr("Name:"), name);
    form->addRow(tr("Notes:"), notes);
    form->addRow(buttons);
    if (dialog.exec() == QDialog::Accepted)
        renameExperiment(e.id, name->text(), notes->toPlainText());
}

void ExperimentsView::deleteSelected() {
    const QList<qint64> ids = selectedIds();
    if (ids.isEmpty())
        return;
    QStringList names;
    for (const qint64 id : ids)
        names << QString::number(id);
    const auto answer = QMessageBox::question(
        this, tr("Delete Experiments"),
        tr("Delete %n experiment(s) (%1) with their layers and evaluations? This cannot be "
           "undone.",
           nullptr, int(ids.size()))
            .arg(names.join(QStringLiteral(", "))),
        QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
    if (answer != QMessageBox::Yes)
        return;
    for (const qint64 id : ids)
        if (!deleteExperiment(id))
            break;
}

} // namespace rs::ui
