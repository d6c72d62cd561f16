#pragma once

#include "compensate/spectral_metrics.h"
#include "store/records.h"

#include <QWidget>
#include <optional>
#include <vector>

class QCPBars;
class QCPGraph;
class QCustomPlot;
class QMouseEvent;
class QStackedWidget;

namespace rs::ui {

// The WeightWatcher-style metrics of every weight of an experiment, across layers in model
// order: the power-law alpha of each eigenvalue spectrum (points, left axis) and the stable rank
// (bars, right axis). Layers far above the others in alpha are the least trained, and those of
// low stable rank the most compressible. Hovering a layer names it with all three metrics.
class LayerMetricsView : public QWidget {
    Q_OBJECT

public:
    explicit LayerMetricsView(QWidget* parent = nullptr);

    // `metrics`: per layer, as experimentloader's weightMetricsOf() computes them. Layers
    // without metrics (a run without analysis) are left out.
    void setLayers(const std::vector<rs::LayerRecord>& layers,
                   const std::vector<std::optional<rs::SpectralMetrics>>& metrics);
    void clear();

    // The layers plotted, in order, with their metrics.
    const std::vector<rs::LayerRecord>& layers() const { return m_layers; }
    const std::vector<rs::SpectralMetrics>& metrics() const { return m_metrics; }
    QCustomPlot* plot() const { return m_plot; }
    QCPGraph* alphaGraph() const { return m_alpha; }
    QCPBars* stableRankBars() const { return m_stableRank; }
    // What the tooltip says at plot coordinate x (empty away from a layer).
    QString describe(double x) const;

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void updateTicks();
    void hover(QMouseEvent* event);

    std::vector<rs::LayerRecord> m_layers;
    std::vector<rs::SpectralMetrics> m_metrics;
    QStackedWidget* m_stack;
    QCustomPlot* m_plot;
    QCPGraph* m_alpha;
    QCPBars* m_stableRank;
};

} // namespace rs::ui
