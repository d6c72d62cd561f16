#pragma once

#include "store/records.h"

#include <QAbstractTableModel>
#include <QSet>
#include <vector>

namespace rs::ui {

// The experiment history as a table: one row per stored experiment, newest first. It holds a
// snapshot of ExperimentStore::listExperiments(); the experiments view refreshes it. The ID
// column carries a tick box: the ticked experiments are the ones to compare.
class ExperimentModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        IdColumn,
        NameColumn,
        StatusColumn,
        CreatedColumn,
        ModelColumn,
        CompressionColumn,
        CompensationColumn,
        RanksColumn,
        PerplexityColumn,
        LayersColumn,
        ColumnCount
    };
    // Role with the experiment id of a row (any column).
    static constexpr int IdRole = Qt::UserRole + 1;

    explicit ExperimentModel(QObject* parent = nullptr);

    void setExperiments(std::vector<rs::ExperimentSummary> experiments);
    const std::vector<rs::ExperimentSummary>& experiments() const { return m_rows; }
    // The row of an experiment, -1 when it is not listed.
    int rowOf(qint64 id) const;
    // Ticked experiments, oldest first; ticks survive a refresh while their experiment is listed.
    QList<qint64> tickedIds() const;
    void setTicked(qint64 id, bool ticked);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

signals:
    void tickedChanged();

private:
    std::vector<rs::ExperimentSummary> m_rows;
    QSet<qint64> m_ticked;
};

} // namespace rs::ui
