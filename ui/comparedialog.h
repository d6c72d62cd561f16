#pragma once

#include "pipeline/experiment_compare.h"

#include <QDialog>

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
    // The widget below the tables (empty by default), for overlaid curves.
    void setExtraWidget(QWidget* widget);

private:
    QTableWidget* m_settings;
    QTableWidget* m_metrics;
};

} // namespace rs::ui
