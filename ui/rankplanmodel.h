#pragma once

#include <QAbstractTableModel>
#include <vector>

namespace rs::ui {

// The per-layer rank table of the budget view: for each layer its shape, the rank of the uniform
// plan and of the current plan (editable), the adapter parameters and the error left at that
// rank. It holds numbers only; the budget view computes plans with the planner.
class RankPlanModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        LayerColumn,
        ShapeColumn,
        UniformColumn,
        PlanColumn,
        ParamsColumn,
        ErrorColumn,
        ColumnCount
    };

    struct Layer {
        QString name;
        qint64 outFeatures = 0;
        qint64 inFeatures = 0;
        qint64 maxRank = 0;
        std::vector<double> curve; // E(r) / E(0): fraction of the compression error left
    };

    explicit RankPlanModel(QObject* parent = nullptr);

    void setLayers(std::vector<Layer> layers);
    const std::vector<Layer>& layers() const { return m_layers; }
    // Both plans at once (one dataChanged for the rank columns, none for the rest).
    void setRanks(const std::vector<qint64>& uniform, const std::vector<qint64>& plan);
    const std::vector<qint64>& planRanks() const { return m_plan; }
    const std::vector<qint64>& uniformRanks() const { return m_uniform; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

signals:
    // The user edited a layer's rank in the table (already applied to planRanks()).
    void rankEdited(int row, qint64 rank);

private:
    std::vector<Layer> m_layers;
    std::vector<qint64> m_uniform;
    std::vector<qint64> m_plan;
};

} // namespace rs::ui
