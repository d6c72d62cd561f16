#pragma once

#include "pipeline/experiment_points.h"

#include <QWidget>
#include <filesystem>

class QComboBox;
class QCustomPlot;
class QLabel;
class QMouseEvent;

namespace rs::ui {

// The trade-off view: every variant of every finished experiment of the open model as a point
// of size (bits per weight including the adapter) against predicted error or measured perplexity,
// coloured by compression, with the Pareto front drawn (its points ringed and labelled) and the
// original model's perplexity as a line. Hovering names a point; clicking opens its experiment.
class TradeoffView : public QWidget {
    Q_OBJECT

public:
    enum class Metric { PredictedError, Perplexity };

    explicit TradeoffView(QWidget* parent = nullptr);

    void setDatabase(const std::filesystem::path& database);
    // The model whose experiments are shown (its absolute path as stored); empty: all models.
    void setModelPath(const std::string& path);
    void setMetric(Metric metric);
    // Reloads the points from the store.
    void refresh();

    const rs::ExperimentPoints& points() const { return m_points; }
    // Points drawn on the plot (those that have the metric) and of them on the front.
    int plottedPoints() const { return m_plotted; }
    int frontPoints() const { return m_front; }
    QCustomPlot* plot() const { return m_plot; }
    // The experiment of the plotted point nearest to pixel `pos` within a few pixels, or 0.
    qint64 experimentAt(const QPointF& pos) const;
    // What the tooltip says of the plotted point nearest to `pos` (empty when none is near):
    // experiment, compression, variant, size and both metrics.
    QString describeAt(const QPointF& pos) const;

signals:
    void openRequested(qint64 experiment);

private:
    void redraw();
    void drawFront(const std::vector<size_t>& front);
    void drawOriginal();
    void onClick(QMouseEvent* event);
    void onHover(QMouseEvent* event);
    // Index into m_points of the plotted point nearest to `pos` within kPickRadiusPx, or -1.
    qsizetype pointAt(const QPointF& pos) const;
    double metricOf(const rs::ExperimentPoint& p) const;

    std::filesystem::path m_database;
    std::string m_modelPath;
    Metric m_metric = Metric::PredictedError;
    rs::ExperimentPoints m_points;
    std::vector<size_t> m_plottedIndex; // point index of each plotted point, in graph order
    int m_plotted = 0;
    int m_front = 0;
    QComboBox* m_metricBox;
    QCustomPlot* m_plot;
    QLabel* m_message;
};

} // namespace rs::ui
