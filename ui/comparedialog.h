#pragma once

#include "pipeline/experiment_compare.h"
#include "store/records.h"

#include <QDialog>
#include <vector>

class QComboBox;
class QCustomPlot;
class QTableWidget;

namespace rs::ui {

// Two experiments side by side: the settings (rows that differ are marked and bold) and each
// variant's perplexity and mean relative output error, with the difference B - A.
class CompareDialog : public QDialog {
    Q_OBJECT

public:
    CompareDialog(const rs::ExperimentComparison& comparison, QWidget* parent = nullptr);

    QTableWidget* settingsTable() const { return m_settings; }
    QTableWidget* metricsTable() const { return m_metrics; }
    // Overlays both experiments' error curves (EoRA and SVD, relative output error, so that
    // different compressions share a scale) for a layer chosen from those both have.
    void setLayers(std::vector<rs::LayerRecord> a, std::vector<rs::LayerRecord> b);
    QComboBox* layerBox() const { return m_layerBox; }
    QCustomPlot* curvePlot() const { return m_plot; }

private:
    void showCurves();

    rs::ExperimentComparison m_comparison;
    QTableWidget* m_settings;
    QTableWidget* m_metrics;
    std::vector<rs::LayerRecord> m_a;
    std::vector<rs::LayerRecord> m_b;
    QComboBox* m_layerBox = nullptr;
    QCustomPlot* m_plot = nullptr;
};

} // namespace rs::ui
