#pragma once

#include "pipeline/experiment_compare.h"
#include "store/records.h"

#include <QDialog>
#include <vector>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QTableWidget;

namespace rs::ui {

// Any number of experiments side by side: the settings that define them (rows that differ are
// marked and bold; "Only differences" hides the rest), what they cost (stage times, reused
// statistics), and each variant's perplexity with its change against the chosen baseline
// (experiment − baseline: negative is better) and mean relative output error.
class CompareDialog : public QDialog {
    Q_OBJECT

public:
    CompareDialog(const rs::ExperimentComparison& comparison, QWidget* parent = nullptr);

    QTableWidget* settingsTable() const { return m_settings; }
    QTableWidget* costsTable() const { return m_costs; }
    QTableWidget* metricsTable() const { return m_metrics; }
    QComboBox* baselineBox() const { return m_baseline; }
    QCheckBox* differencesOnlyBox() const { return m_differencesOnly; }
    // Overlays every experiment's error curves (EoRA solid, SVD dashed, relative output error so
    // that different compressions share a scale) for a layer chosen from those with curves.
    // One list of layers per experiment, in the comparison's order.
    void setLayers(std::vector<std::vector<rs::LayerRecord>> layers);
    QComboBox* layerBox() const { return m_layerBox; }
    QCustomPlot* curvePlot() const { return m_plot; }

private:
    void fillSettingHeaders();
    void fillMetrics();
    void showOnlyDifferences(bool only);
    void showCurves();

    rs::ExperimentComparison m_comparison;
    QComboBox* m_baseline;
    QCheckBox* m_differencesOnly;
    QTableWidget* m_settings;
    QTableWidget* m_costs;
    QTableWidget* m_metrics;
    std::vector<std::vector<rs::LayerRecord>> m_layers;
    QComboBox* m_layerBox = nullptr;
    QCustomPlot* m_plot = nullptr;
};

} // namespace rs::ui
