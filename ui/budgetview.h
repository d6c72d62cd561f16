#pragma once

#include "pipeline/rank_planning.h"

#include <QWidget>
#include <memory>
#include <optional>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSlider;
class QTableView;

namespace rs::ui {

class RankBarsPlot;
class RankPlanModel;

// The rank-budget view: a global budget (slider and spin box, in adapter parameters, percent of
// the model or average bits per weight), re-planned live on every move with the budget-optimal
// planner beside the uniform plan of the same budget; an editable per-layer rank table whose
// edits update the totals; predicted error and size of both plans; Apply runs the plan.
//
// All planning is the engine's (rs::RankPlanner, rs::SizeModel); this view only wires controls
// to it and shows the numbers.
class BudgetView : public QWidget {
    Q_OBJECT

public:
    enum class Unit { Parameters, Percent, BitsPerWeight };

    explicit BudgetView(QWidget* parent = nullptr);
    ~BudgetView() override;

    // Shows a stored experiment's curves, those of curves.compensation first; the user may
    // switch to any other compensation of the experiment that has curves.
    void setCurves(rs::StoredCurves curves);
    // Plans with the curves of another compensation of the experiment (serialized config).
    void setCompensation(const QString& compensation);
    QString compensation() const;
    void clear();
    bool hasPlan() const { return m_planner != nullptr; }

    // The budget in adapter parameters; setBudget() clamps to the planner's range and plans
    // afresh, dropping rank edits.
    qint64 budget() const { return m_budget; }
    void setBudget(qint64 parameters);
    // A budget the user chose with the slider or the box: with rank edits in the table it first
    // asks (window-modal, not blocking) whether to drop them; keeping them restores the controls.
    void requestBudget(qint64 parameters);
    bool hasEdits() const { return m_edited; }
    // While another job runs, Apply waits (one job at a time).
    void setJobRunning(bool running);
    void setUnit(Unit unit);
    void setWeighting(rs::LayerWeighting weighting);
    void setAlignment(int align);

    // The plan shown (optimal, or as edited in the table), as the pipeline takes it.
    rs::RankPlan currentPlan() const;
    const rs::Plan& optimalPlan() const { return m_optimal; }
    const rs::Plan& uniformPlan() const { return m_uniform; }
    const rs::Plan& shownPlan() const { return m_shown; }
    int uniformRank() const { return m_uniformRank; }
    // Predicted totals of a plan: the fraction of the compression error left over all layers,
    // sum_l E_l(r_l) / sum_l E_l(0), and the mean relative output error E_l(r_l) / tr(W C W^T).
    double errorLeft(const rs::Plan& plan) const;
    double relativeOutputError(const rs::Plan& plan) const;
    // The metric the planner minimises under the chosen weighting (the headline compares both
    // plans in it): the mean relative output error (energy), the error left (equal) or the
    // predicted perplexity increase (sensitivity).
    double objectiveValue(const rs::Plan& plan) const;
    QString objectiveName() const;
    rs::LayerWeighting weighting() const;
    // Measured layer sensitivities (perplexity increases, layers() order) for the sensitivity
    // weighting; the main window measures them (a job) when that weighting is first chosen.
    void setSensitivities(std::vector<double> sensitivities);
    bool hasSensitivities() const { return !m_sensitivities.empty(); }
    // The measurement did not happen (failed, cancelled): back to the energy weighting.
    void sensitivitiesUnavailable(const QString& why);
    // Milliseconds the last re-plan (planner + table + plot) took.
    double lastReplanMs() const { return m_lastReplanMs; }

    RankPlanModel* model() const { return m_model; }
    QSlider* slider() const { return m_slider; }
    QComboBox* curveBox() const { return m_curveBox; }
    QDoubleSpinBox* budgetBox() const { return m_budgetBox; }
    QTableView* table() const { return m_table; }
    RankBarsPlot* plot() const { return m_plot; }
    QPushButton* applyButton() const { return m_apply; }
    QLabel* summaryLabel() const { return m_summary; }
    QLabel* messageLabel() const { return m_message; }

signals:
    // Apply: run the compensation with this plan and evaluate it as a new experiment.
    void applyRequested(qint64 experiment, const QString& compensation, const rs::RankPlan& plan);
    // Emitted after every re-plan.
    void planChanged();
    // The sensitivity weighting was chosen before sensitivities were measured.
    void sensitivitiesRequested(qint64 experiment);

private:
    // The constructor's steps.
    void setUpControls();
    void setUpTable();
    void layOut();
    void connectControls();

    void fillCurveChoices();
    void showLayers();
    void rebuildPlanner();
    void replan();
    void showTotals();
    QString formatMetric(bool objective, const rs::Plan& plan) const;
    void showBudgetExcess();
    void budgetTyped(double value);
    void updateApplyEnabled();
    void updateBudgetBox();
    void updatePlot();
    double toUnit(qint64 parameters) const;
    qint64 fromUnit(double value) const;
    int sliderPosition(qint64 parameters) const;
    qint64 budgetAt(int position) const;

    std::optional<rs::StoredCurves> m_curves;
    std::unique_ptr<rs::RankPlanner> m_planner;
    std::unique_ptr<rs::SizeModel> m_sizes;
    std::vector<double> m_errorEnergy;   // E_l(0) per layer
    std::vector<double> m_outputEnergy;  // tr(W C W^T) per layer
    std::vector<double> m_sensitivities; // measured perplexity increases, empty until known
    rs::Plan m_optimal;
    rs::Plan m_uniform;
    rs::Plan m_shown;
    int m_uniformRank = 0;
    qint64 m_budget = 0;
    bool m_edited = false;
    bool m_jobRunning = false;
    double m_lastReplanMs = 0.0;
    Unit m_unit = Unit::Parameters;

    QComboBox* m_curveBox;
    QComboBox* m_unitBox;
    QComboBox* m_weightingBox;
    QComboBox* m_alignBox;
    QSlider* m_slider;
    QDoubleSpinBox* m_budgetBox;
    QLabel* m_summary;
    QLabel* m_message;
    RankPlanModel* m_model;
    QTableView* m_table;
    RankBarsPlot* m_plot;
    QPushButton* m_reset;
    QPushButton* m_apply;
};

} // namespace rs::ui
