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
    return column == C::Name || column == C::Kind ? kLeft : kRight;
}

} // namespace

LayerTableModel::LayerTableModel(QObject* parent)
    : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(std::vector<rs::LinearLayerInfo> layers) {
    beginResetModel();
    m_layers = std::move(layers);
    m_results.clear();
    endResetModel();
}

void LayerTableModel::setResults(const std::vector<rs::LayerRecord>& records,
                                 const std::vector<std::optional<rs::SpectralMetrics>>& metrics,
                                 int variant, const QString& variantLabel) {
    std::vector<Result> results(m_layers.size());
    for (size_t i = 0; i < records.size(); ++i) {
        const rs::LayerRecord& record = records[i];
        const int row = rowOf(fromUtf8(record.name));
        if (row < 0)
            continue;
        Result& r = results[size_t(row)];
        if (variant >= 0 && size_t(variant) < record.ranks.size())
            r.rank = record.ranks[size_t(variant)];
        if (variant >= 0 && size_t(variant) < record.errorAfter.size())
            r.errorAfter = record.errorAfter[size_t(variant)];
        if (i < metrics.size())
            r.metrics = metrics[i];
    }
    m_results = std::move(results);
    m_variantLabel = variantLabel;
    emit dataChanged(index(0, Rank), index(std::max(0, rowCount() - 1), ColumnCount - 1));
    emit headerDataChanged(Qt::Horizontal, Rank, ErrorAfter);
}

void LayerTableModel::clearResults() {
    m_results.clear();
    m_variantLabel.clear();
    emit dataChanged(index(0, Rank), index(std::max(0, rowCount() - 1), ColumnCount - 1));
    emit headerDataChanged(Qt::Horizontal, Rank, ErrorAfter);
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
        return displayData(size_t(index.row()), index.column());
    case SortRole:
        return sortData(size_t(index.row()), index.column());
    case Qt::ToolTipRole:
        return index.column() == Name ? fromUtf8(layer.name) : QVariant();
    case Qt::TextAlignmentRole:
        return alignment(index.column());
    default:
        return {};
    }
}

QVariant LayerTableModel::resultData(size_t row, int column, bool display) const {
    if (row >= m_results.size())
        return {};
    const Result& r = m_results[row];
    switch (column) {
    case Rank:
        return r.rank ? QVariant(qint64(*r.rank)) : QVariant();
    case ErrorAfter:
        if (!r.errorAfter)
            return {};
        return display ? QVariant(QStringLiteral("%1 %").arg(100.0 * *r.errorAfter, 0, 'f', 2))
                       : QVariant(*r.errorAfter);
    case Alpha:
        if (!r.metrics || r.metrics->alpha <= 0.0)
            return {};
        return display ? QVariant(QString::number(r.metrics->alpha, 'f', 2))
                       : QVariant(r.metrics->alpha);
    case StableRank:
        if (!r.metrics)
            return {};
        return display ? QVariant(QString::number(r.metrics->stableRank, 'f', 1))
                       : QVariant(r.metrics->stableRank);
    case SpectralNorm:
        if (!r.metrics)
            return {};
        return display ? QVariant(QString::number(r.metrics->spectralNorm, 'g', 4))
                       : QVariant(r.metrics->spectralNorm);
    default:
        return {};
    }
}

QVariant LayerTableModel::displayData(size_t row, int column) const {
    if (column >= Rank)
        return resultData(row, column, true);
    const rs::LinearLayerInfo& layer = m_layers[row];
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

QVariant LayerTableModel::sortData(size_t row, int column) const {
    if (column >= Rank)
        return resultData(row, column, false);
    const rs::LinearLayerInfo& layer = m_layers[row];
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
        case Rank:
            return m_variantLabel.isEmpty() ? tr("Rank") : tr("Rank (%1)").arg(m_variantLabel);
        case ErrorAfter:
            return m_variantLabel.isEmpty() ? tr("Error after")
                                            : tr("Error after %1").arg(m_variantLabel);
        case Alpha:
            return tr("α");
        case StableRank:
            return tr("Stable rank");
        case SpectralNorm:
            return tr("‖W‖₂");
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
        case Rank:
            return tr("The rank the open experiment's shown variant gave this layer");
        case ErrorAfter:
            return tr("Relative output error of this layer after compensation, "
                      "tr(E C Eᵀ) / tr(W C Wᵀ) on the calibration inputs");
        case Alpha:
            return tr("Power-law exponent of the weight's eigenvalue spectrum (W Wᵀ), fitted to "
                      "its tail: about 2 to 6 for well-trained layers, larger when closer to "
                      "random");
        case StableRank:
            return tr("‖W‖_F² / ‖W‖₂²: how many directions carry the weight's energy");
        case SpectralNorm:
            return tr("Largest singular value of the weight");
        }
    }
    if (role == Qt::TextAlignmentRole)
        return alignment(section);
    return {};
}

} // namespace rs::ui
