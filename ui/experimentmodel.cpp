#include "experimentmodel.h"

#include "utf8.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QFileInfo>
#include <algorithm>
#include <limits>

namespace rs::ui {

namespace {

QString statusText(rs::ExperimentStatus status) {
    switch (status) {
    case rs::ExperimentStatus::Running:
        return ExperimentModel::tr("running");
    case rs::ExperimentStatus::Done:
        return ExperimentModel::tr("done");
    case rs::ExperimentStatus::Failed:
        return ExperimentModel::tr("failed");
    case rs::ExperimentStatus::Cancelled:
        return ExperimentModel::tr("cancelled");
    case rs::ExperimentStatus::Interrupted:
        return ExperimentModel::tr("interrupted");
    }
    return {};
}

QColor statusColor(rs::ExperimentStatus status) {
    switch (status) {
    case rs::ExperimentStatus::Failed:
    case rs::ExperimentStatus::Interrupted:
        return QColor(0xb0, 0x00, 0x20);
    case rs::ExperimentStatus::Cancelled:
        return QColor(0x80, 0x80, 0x80);
    case rs::ExperimentStatus::Running:
        return QColor(0x1f, 0x5f, 0xbf);
    case rs::ExperimentStatus::Done:
        break;
    }
    return {};
}

// "2026-11-22T14:03:11Z" shown in local time.
QString localTime(const std::string& iso) {
    QDateTime t = QDateTime::fromString(fromUtf8(iso), Qt::ISODate);
    return t.isValid() ? t.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm"))
                       : fromUtf8(iso);
}

} // namespace

ExperimentModel::ExperimentModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void ExperimentModel::setExperiments(std::vector<rs::ExperimentSummary> experiments) {
    beginResetModel();
    m_rows = std::move(experiments);
    const qsizetype ticked = m_ticked.size();
    m_ticked.removeIf([this](qint64 id) { return rowOf(id) < 0; });
    endResetModel();
    if (m_ticked.size() != ticked)
        emit tickedChanged();
}

QList<qint64> ExperimentModel::tickedIds() const {
    QList<qint64> ids(m_ticked.begin(), m_ticked.end());
    std::sort(ids.begin(), ids.end());
    return ids;
}

void ExperimentModel::setTicked(qint64 id, bool ticked) {
    const int row = rowOf(id);
    if (row < 0 || m_ticked.contains(id) == ticked)
        return;
    if (ticked)
        m_ticked.insert(id);
    else
        m_ticked.remove(id);
    const QModelIndex cell = index(row, IdColumn);
    emit dataChanged(cell, cell, {Qt::CheckStateRole});
    emit tickedChanged();
}

Qt::ItemFlags ExperimentModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == IdColumn)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

bool ExperimentModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::CheckStateRole || index.column() != IdColumn ||
        !checkIndex(index, CheckIndexOption::IndexIsValid))
        return false;
    setTicked(m_rows[size_t(index.row())].experiment.id,
              value.value<Qt::CheckState>() == Qt::Checked);
    return true;
}

int ExperimentModel::rowOf(qint64 id) const {
    for (size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].experiment.id == id)
            return int(i);
    return -1;
}

int ExperimentModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ExperimentModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ExperimentModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const rs::ExperimentSummary& s = m_rows[size_t(index.row())];
    const rs::ExperimentRecord& e = s.experiment;
    if (role == IdRole)
        return qint64(e.id);
    if (role == Qt::CheckStateRole && index.column() == IdColumn)
        return m_ticked.contains(e.id) ? Qt::Checked : Qt::Unchecked;
    if (role == Qt::ForegroundRole && index.column() == StatusColumn) {
        const QColor color = statusColor(e.status);
        return color.isValid() ? QVariant(QBrush(color)) : QVariant();
    }
    if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case IdColumn:
        case PerplexityColumn:
        case LayersColumn:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case ModelColumn:
            return fromUtf8(s.modelPath);
        case StatusColumn:
            return e.error.empty() ? QVariant() : QVariant(fromUtf8(e.error));
        case NameColumn:
            return e.notes.empty() ? QVariant() : QVariant(fromUtf8(e.notes));
        default:
            return {};
        }
    }
    // EditRole carries sortable values (numbers, ISO time); DisplayRole the formatted text.
    const bool sortable = role == Qt::EditRole;
    if (role != Qt::DisplayRole && !sortable)
        return {};
    switch (index.column()) {
    case IdColumn:
        return qint64(e.id);
    case NameColumn:
        return fromUtf8(e.name);
    case StatusColumn:
        return statusText(e.status);
    case CreatedColumn:
        return sortable ? fromUtf8(e.created) : localTime(e.created);
    case ModelColumn:
        return QFileInfo(fromUtf8(s.modelPath)).fileName();
    case CompressionColumn:
        return fromUtf8(e.compression);
    case CompensationColumn: {
        QStringList comps;
        for (const std::string& c : e.compensations)
            comps << fromUtf8(c);
        return comps.join(QStringLiteral(", "));
    }
    case RanksColumn:
        return fromUtf8(e.rankPlan);
    case PerplexityColumn:
        if (!s.bestPerplexity)
            return sortable ? QVariant(std::numeric_limits<double>::infinity()) : QVariant();
        return sortable ? QVariant(*s.bestPerplexity)
                        : QVariant(QString::number(*s.bestPerplexity, 'f', 4));
    case LayersColumn:
        return qint64(s.layerCount);
    default:
        return {};
    }
}

QVariant ExperimentModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::ToolTipRole && section == PerplexityColumn)
        return tr("Lowest perplexity over the experiment's variants");
    if (role == Qt::ToolTipRole && section == IdColumn)
        return tr("Tick the experiments to compare");
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case IdColumn:
        return tr("ID");
    case NameColumn:
        return tr("Name");
    case StatusColumn:
        return tr("Status");
    case CreatedColumn:
        return tr("Created");
    case ModelColumn:
        return tr("Model");
    case CompressionColumn:
        return tr("Compression");
    case CompensationColumn:
        return tr("Compensation");
    case RanksColumn:
        return tr("Ranks");
    case PerplexityColumn:
        return tr("Best PPL");
    case LayersColumn:
        return tr("Layers");
    default:
        return {};
    }
}

} // namespace rs::ui
