#pragma once

#include "model/summary.h"

#include <QAbstractTableModel>
#include <vector>

namespace rs::ui {

// The decoder linears of a model, one row each, in the order the summary lists them. Display
// strings are formatted here; SortRole gives the raw values so that sorting is numeric.
class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Block, Kind, OutFeatures, InFeatures, Parameters, Bias, ColumnCount };
    enum Role { SortRole = Qt::UserRole };

    explicit LayerTableModel(QObject* parent = nullptr);

    void setLayers(std::vector<rs::LinearLayerInfo> layers);
    void clear();
    const rs::LinearLayerInfo& layer(int row) const { return m_layers.at(size_t(row)); }
    // Row of the layer with this full name, or -1.
    int rowOf(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    QVariant displayData(const rs::LinearLayerInfo& layer, int column) const;
    static QVariant sortData(const rs::LinearLayerInfo& layer, int column);

    std::vector<rs::LinearLayerInfo> m_layers;
};

} // namespace rs::ui
