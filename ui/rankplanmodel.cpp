#include "rankplanmodel.h"

#include <QBrush>
#include <QColor>
#include <QLocale>

namespace rs::ui {

RankPlanModel::RankPlanModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void RankPlanModel::setLayers(std::vector<Layer> layers) {
    beginResetModel();
    m_layers = std::move(layers);
    m_uniform.assign(m_layers.size(), 0);
    m_plan.assign(m_layers.size(), 0);
    endResetModel();
}

void RankPlanModel::setRanks(const std::vector<qint64>& uniform, const std::vector<qint64>& plan) {
    if (uniform.size() != m_layers.size() || plan.size() != m_layers.size())
        return;
    m_uniform = uniform;
    m_plan = plan;
    if (!m_layers.empty())
        emit dataChanged(index(0, UniformColumn), index(rowCount() - 1, ErrorColumn));
}

int RankPlanModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_layers.size());
}

int RankPlanModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RankPlanModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const size_t row = size_t(index.row());
    const Layer& layer = m_layers[row];
    const qint64 rank = m_plan[row];
    const double left =
        rank >= 0 && size_t(rank) < layer.curve.size() ? layer.curve[size_t(rank)] : 0.0;
    if (role == Qt::TextAlignmentRole)
        return index.column() == LayerColumn ? QVariant()
                                             : QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && index.column() == PlanColumn)
        return tr("Double-click to set this layer's rank (0 .. %1)").arg(layer.maxRank);
    if (role == Qt::ForegroundRole && index.column() == PlanColumn && rank != m_uniform[row])
        return QBrush(rank > m_uniform[row] ? QColor(0x1a, 0x7f, 0x37) : QColor(0xb0, 0x40, 0x00));
    if (role != Qt::DisplayRole && role != Qt::EditRole)
        return {};
    const QLocale locale;
    switch (index.column()) {
    case LayerColumn:
        return layer.name;
    case ShapeColumn:
        return role == Qt::EditRole
                   ? QVariant(layer.outFeatures * layer.inFeatures)
                   : QVariant(tr("%1 × %2").arg(layer.outFeatures).arg(layer.inFeatures));
    case UniformColumn:
        return m_uniform[row];
    case PlanColumn:
        return rank;
    case ParamsColumn: {
        const qint64 params = rank * (layer.outFeatures + layer.inFeatures);
        return role == Qt::EditRole ? QVariant(params) : QVariant(locale.toString(params));
    }
    case ErrorColumn:
        return role == Qt::EditRole
                   ? QVariant(left)
                   : QVariant(QString::number(100.0 * left, 'f', 2) + QStringLiteral(" %"));
    default:
        return {};
    }
}

bool RankPlanModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || index.column() != PlanColumn ||
        !checkIndex(index, CheckIndexOption::IndexIsValid))
        return false;
    bool ok = false;
    const qint64 rank = value.toLongLong(&ok);
    const size_t row = size_t(index.row());
    if (!ok || rank < 0 || rank > m_layers[row].maxRank)
        return false;
    m_plan[row] = rank;
    emit dataChanged(this->index(index.row(), PlanColumn), this->index(index.row(), ErrorColumn));
    emit rankEdited(index.row(), rank);
    return true;
}

Qt::ItemFlags RankPlanModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == PlanColumn)
        f |= Qt::ItemIsEditable;
    return f;
}

QVariant RankPlanModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case UniformColumn:
            return tr("Rank of the uniform plan with the same budget");
        case PlanColumn:
            return tr("Rank of the current plan (budget-optimal, or as edited)");
        case ParamsColumn:
            return tr("Adapter parameters r (d_out + d_in)");
        case ErrorColumn:
            return tr("Fraction of the layer's compression error left at the plan's rank");
        default:
            return {};
        }
    }
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case LayerColumn:
        return tr("Layer");
    case ShapeColumn:
        return tr("d_out × d_in");
    case UniformColumn:
        return tr("Uniform r");
    case PlanColumn:
        return tr("Plan r");
    case ParamsColumn:
        return tr("Adapter params");
    case ErrorColumn:
        return tr("Error left");
    default:
        return {};
    }
}

} // namespace rs::ui
