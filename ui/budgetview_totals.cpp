// The predicted totals of the Rank Budget view: both plans in the metric the plan minimises,
// beside their sizes and one reference metric.
#include "budgetview.h"
#include "rankplanmodel.h"
#include "utf8.h"

#include <QComboBox>
#include <QLabel>
#include <QLocale>
#include <algorithm>

namespace rs::ui {

double BudgetView::errorLeft(const rs::Plan& plan) const {
    double left = 0.0, total = 0.0;
    const auto& rows = m_model->layers();
    for (size_t l = 0; l < rows.size() && l < plan.ranks.size(); ++l) {
        const auto& curve = rows[l].curve;
        const size_t r = std::min(size_t(plan.ranks[l]), curve.size() - 1);
        left += curve[r] * m_errorEnergy[l];
        total += m_errorEnergy[l];
    }
    return total > 0 ? left / total : 0.0;
}

double BudgetView::relativeOutputError(const rs::Plan& plan) const {
    double sum = 0.0;
    const auto& rows = m_model->layers();
    for (size_t l = 0; l < rows.size() && l < plan.ranks.size(); ++l) {
        const auto& curve = rows[l].curve;
        const size_t r = std::min(size_t(plan.ranks[l]), curve.size() - 1);
        if (m_outputEnergy[l] > 0)
            sum += curve[r] * m_errorEnergy[l] / m_outputEnergy[l];
    }
    return rows.empty() ? 0.0 : sum / double(rows.size());
}

rs::LayerWeighting BudgetView::weighting() const {
    return rs::LayerWeighting(m_weightingBox->currentData().toInt());
}

double BudgetView::objectiveValue(const rs::Plan& plan) const {
    switch (weighting()) {
    case rs::LayerWeighting::Energy:
        return relativeOutputError(plan);
    case rs::LayerWeighting::Equal:
        return errorLeft(plan);
    case rs::LayerWeighting::Sensitivity:
        return plan.objective;
    }
    return plan.objective;
}

QString BudgetView::objectiveName() const {
    switch (weighting()) {
    case rs::LayerWeighting::Energy:
        return tr("mean relative output error");
    case rs::LayerWeighting::Equal:
        return tr("error left");
    case rs::LayerWeighting::Sensitivity:
        return tr("predicted perplexity increase");
    }
    return {};
}

// The objective's value (objective = true) or the reference metric shown beside it: the error
// left, or under the equal weighting (whose objective that is) the mean relative output error.
QString BudgetView::formatMetric(bool objective, const rs::Plan& plan) const {
    const rs::LayerWeighting w = weighting();
    if (objective && w == rs::LayerWeighting::Sensitivity)
        return QStringLiteral("+%1").arg(plan.objective, 0, 'f', 3);
    const bool errorLeftMetric = objective == (w == rs::LayerWeighting::Equal);
    if (errorLeftMetric)
        return tr("%1 %").arg(100.0 * errorLeft(plan), 0, 'f', 2);
    return QString::number(relativeOutputError(plan), 'g', 4);
}

// Both plans side by side in the metric the plan minimises (bold, with the change against
// uniform), their sizes, and one reference metric.
void BudgetView::showTotals() {
    const QLocale locale;
    const auto size = [&](const rs::Plan& plan) {
        QString text = tr("%1 params").arg(locale.toString(qint64(plan.parameters)));
        if (m_sizes)
            text += QStringLiteral("<br>") +
                    tr("%1 % of model · %2 bpw")
                        .arg(m_sizes->percentOfModel(plan.parameters), 0, 'f', 3)
                        .arg(m_sizes->bitsPerWeight(plan.parameters), 0, 'f', 3);
        return text;
    };
    const double uniform = objectiveValue(m_uniform);
    const double shown = objectiveValue(m_shown);
    QString change;
    if (uniform > 0)
        change = tr(" (%1 % against uniform)")
                     .arg(locale.toString(100.0 * (shown - uniform) / uniform, 'f', 1));
    const QString reference = weighting() == rs::LayerWeighting::Equal
                                  ? tr("mean relative output error")
                                  : tr("error left");
    const QString row = QStringLiteral("<tr><td><b>%1</b></td><td>%2</td><td><b>%3</b>%4</td>"
                                       "<td>%5</td></tr>");
    m_summary->setText(
        QStringLiteral("<table cellspacing=6><tr><td></td><td>%1</td><td><b>%2</b> %3</td>"
                       "<td>%4</td></tr>")
            .arg(tr("size"), objectiveName(), tr("(what the plan minimises)"), reference) +
        row.arg(tr("Uniform rank %1").arg(m_uniformRank), size(m_uniform),
                formatMetric(true, m_uniform), QString(), formatMetric(false, m_uniform)) +
        row.arg(m_edited ? tr("Edited plan") : tr("Budget-optimal plan"), size(m_shown),
                formatMetric(true, m_shown), change, formatMetric(false, m_shown)) +
        // Inside the table: text after a table is clipped when the label wraps on narrow screens.
        QStringLiteral("<tr><td colspan=4>%1</td></tr></table>")
            .arg(tr("Both predicted from the error curves of %1.")
                     .arg(fromUtf8(m_curves->compensation.spec().name))));
}

} // namespace rs::ui
