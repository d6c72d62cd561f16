#include "layertablemodel.h"

#include "utf8.h"
#include "util/text.h"

namespace rs::ui {

namespace {

// Views of this Qt version read the alignment role as an int.
constexpr int kRight = Qt::AlignRight | Qt::AlignVCenter;
constexpr int kLeft = Qt::AlignLeft | Qt::AlignVCenter;
constexpr int kCenter = Qt::AlignCenter;

// Quantities right, short labels centred, text left.
int alignment(int column) {
    using C = LayerTableModel::Column;
    if (column == C::Block || column == C::Bias)
        return kCenter;
    return column == C::OutFeatures || column == C::InFeatures || column == C::Parameters ? kRight
                                                                                          : kLeft;
}

} // namespace

LayerTableModel::LayerTableModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(std::vector<rs::LinearLayerInfo> layers) {
    beginResetModel();
    m_layers = std::move(layers);
    endResetModel();
}

void LayerTableModel::clear() {
    setLayers({});
}

int LayerTableModel::rowOf(const QString& name) const {
    const std::string key = name.toStdString();
    for (size_t i = 0; i < m_layers.size(); ++i) {
        if (m_layers[i].name == key)
            return int(i);
    }
    return -1;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_layers.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const rs::LinearLayerInfo& layer = m_layers[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        return displayData(layer, index.column());
    case SortRole:
        return sortData(layer, index.column());
    case Qt::ToolTipRole:
        return index.column() == Name ? fromUtf8(layer.name) : QVariant();
    case Qt::TextAlignmentRole:
        return alignment(index.column());
    default:
        return {};
    }
}

QVariant LayerTableModel::displayData(const rs::LinearLayerInfo& layer, int column) const {
    switch (column) {
    case Name:
        return fromUtf8(layer.name);
    case Block:
        return QString::number(layer.block);
    case Kind:
        return fromUtf8(layer.kind);
    case OutFeatures:
        return QString::number(layer.outFeatures);
    case InFeatures:
        return QString::number(layer.inFeatures);
    case Parameters:
        return fromUtf8(rs::formatCount(layer.parameters));
    case Bias:
        return layer.hasBias ? tr("yes") : tr("no");
    default:
        return {};
    }
}

QVariant LayerTableModel::sortData(const rs::LinearLayerInfo& layer, int column) {
    switch (column) {
    case Name:
        return fromUtf8(layer.name);
    case Block:
        return qint64(layer.block);
    case Kind:
        return fromUtf8(layer.kind);
    case OutFeatures:
        return qint64(layer.outFeatures);
    case InFeatures:
        return qint64(layer.inFeatures);
    case Parameters:
        return qint64(layer.parameters);
    case Bias:
        return layer.hasBias;
    default:
        return {};
    }
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name:
            return tr("Layer name");
        case Block:
            return tr("Block");
        case Kind:
            return tr("Kind");
        case OutFeatures:
            return tr("d_out");
        case InFeatures:
            return tr("d_in");
        case Parameters:
            return tr("Parameters");
        case Bias:
            return tr("Bias");
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case Name:
            return tr("Module path of the linear layer in the checkpoint");
        case Block:
            return tr("Decoder block (transformer layer) index");
        case Kind:
            return tr("Projection within the block");
        case OutFeatures:
            return tr("Output features: rows of the weight matrix W");
        case InFeatures:
            return tr("Input features: columns of the weight matrix W");
        case Parameters:
            return tr("Weight (and bias) parameters of this layer");
        case Bias:
            return tr("Whether the layer has a bias vector");
        }
    }
    if (role == Qt::TextAlignmentRole)
        return alignment(section);
    return {};
}

} // namespace rs::ui
