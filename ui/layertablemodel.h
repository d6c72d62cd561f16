#pragma once

#include "compensate/spectral_metrics.h"
#include "model/summary.h"
#include "store/records.h"

#include <QAbstractTableModel>
#include <optional>
#include <vector>

namespace rs::ui {

// The decoder linears of a model, one row each, in the order the summary lists them, with the
// open experiment's per-layer results (the shown variant's rank and relative output error) and
// the WeightWatcher-style metrics of each weight from its stored spectrum. Display strings are
// formatted here; SortRole gives the raw values so that sorting is numeric.
class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        Name,
        Block,
        Kind,
        OutFeatures,
        InFeatures,
        Parameters,
        Bias,
        Rank,
        ErrorAfter,
        Alpha,
        StableRank,
        SpectralNorm,
        ColumnCount
    };
    enum Role { SortRole = Qt::UserRole };

    explicit LayerTableModel(QObject* parent = nullptr);

    void setLayers(std::vector<rs::LinearLayerInfo> layers);
    void clear();
    // An experiment's layers: `variant` (index, label) is the one whose rank and error show;
    // -1 for none. Layers the experiment lacks stay empty in those columns.
    // `metrics`: per record, as experimentloader's weightMetricsOf() computes them.
    void setResults(const std::vector<rs::LayerRecord>& records,
                    const std::vector<std::optional<rs::SpectralMetrics>>& metrics, int variant,
                    const QString& variantLabel);
    void clearResults();
    const rs::LinearLayerInfo& layer(int row) const { return m_layers.at(size_t(row)); }
    // Row of the layer with this full name, or -1.
    int rowOf(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    struct Result {
        std::optional<int64_t> rank;
        std::optional<double> errorAfter;
        std::optional<rs::SpectralMetrics> metrics;
    };
    QVariant displayData(size_t row, int column) const;
    QVariant sortData(size_t row, int column) const;
    QVariant resultData(size_t row, int column, bool display) const;

    std::vector<rs::LinearLayerInfo> m_layers;
    std::vector<Result> m_results; // per row; empty without an experiment
    QString m_variantLabel;
};

} // namespace rs::ui
