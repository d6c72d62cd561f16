#include "budgetview.h"

#include "compactcombo.h"
#include "plotstyle.h"
#include "rankbarsplot.h"
#include "rankplanmodel.h"
#include "utf8.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QElapsedTimer>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMessageBox>
#include <QPushButton>
#include <QSlider>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <cmath>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

// The slider maps its position p in [0, kSliderSteps] to min + (max - min) (p / steps)^3: the
// budgets people use (a few percent of full rank) get most of its travel.
constexpr int kSliderSteps = 1000;
constexpr double kSliderPower = 3.0;

} // namespace

BudgetView::BudgetView(QWidget* parent)
    : QWidget(parent)
    , m_curveBox(compactCombo(new QComboBox))
    , m_unitBox(compactCombo(new QComboBox))
    , m_weightingBox(compactCombo(new QComboBox))
    , m_alignBox(compactCombo(new QComboBox, 6))
    , m_slider(new QSlider(Qt::Horizontal))
    , m_budgetBox(new QDoubleSpinBox)
    , m_summary(new QLabel)
    , m_message(new QLabel)
    , m_model(new RankPlanModel(this))
    , m_table(new QTableView)
    , m_plot(new RankBarsPlot)
    , m_reset(new QPushButton(tr("Reset Edits")))
    , m_apply(new QPushButton(tr("Apply Plan"))) {
    setObjectName(QStringLiteral("budgetView"));
    setUpControls();
    setUpTable();
    layOut();
    connectControls();
    clear();
}

BudgetView::~BudgetView() = default;

void BudgetView::setUpControls() {
    m_curveBox->setObjectName(QStringLiteral("budgetCurves"));
    m_curveBox->setToolTip(tr("The compensation whose error-vs-rank curves the plan minimises "
                              "and Apply Plan runs: any of the experiment's compensations that "
                              "fit factors"));
    m_unitBox->setObjectName(QStringLiteral("budgetUnit"));
    m_unitBox->addItem(tr("Adapter parameters"), int(Unit::Parameters));
    m_unitBox->addItem(tr("% of model parameters"), int(Unit::Percent));
    m_unitBox->addItem(tr("Bits per weight (incl. adapter)"), int(Unit::BitsPerWeight));
    m_unitBox->setToolTip(tr("Adapter parameters: sum of r (d_out + d_in). Bits per weight: "
                             "(b d_out d_in + group overhead + 16 r (d_out + d_in)) / "
                             "(d_out d_in), over the compressed layers."));
    m_weightingBox->setObjectName(QStringLiteral("budgetWeighting"));
    m_weightingBox->addItem(tr("Relative to each layer's output"), int(rs::LayerWeighting::Energy));
    m_weightingBox->addItem(tr("Absolute output error"), int(rs::LayerWeighting::Equal));
    m_weightingBox->addItem(tr("Measured sensitivity (perplexity)"),
                            int(rs::LayerWeighting::Sensitivity));
    m_weightingBox->setToolTip(
        tr("Layer weights of the objective: each layer's error relative to its output energy "
           "tr(W C Wᵀ), the absolute errors, or the perplexity increase measured when only that "
           "layer is compressed (measured once per experiment, then kept in the store; on "
           "stories260K the only weighting whose plans beat uniform ranks in perplexity)"));
    m_alignBox->setObjectName(QStringLiteral("budgetAlign"));
    for (const int a : {1, 8, 16})
        m_alignBox->addItem(a == 1 ? tr("any rank") : tr("multiples of %1").arg(a), a);
    m_slider->setObjectName(QStringLiteral("budgetSlider"));
    m_slider->setRange(0, kSliderSteps);
    m_slider->setToolTip(tr("Drag to change the global budget; both plans follow live"));
    m_budgetBox->setObjectName(QStringLiteral("budgetBox"));
    m_budgetBox->setKeyboardTracking(false);
    m_summary->setObjectName(QStringLiteral("budgetSummary"));
    m_summary->setTextFormat(Qt::RichText);
    // The table's cells wrap, so that the totals never force the window wider than the screen.
    m_summary->setWordWrap(true);
    m_message->setObjectName(QStringLiteral("budgetMessage"));
    m_message->setWordWrap(true);
    m_apply->setObjectName(QStringLiteral("applyPlan"));
    m_apply->setToolTip(tr("Compensate with this plan and evaluate it as a new experiment"));
    m_reset->setObjectName(QStringLiteral("resetEdits"));
}

void BudgetView::setUpTable() {
    m_table->setObjectName(QStringLiteral("rankTable"));
    m_table->setModel(m_model);
    m_table->verticalHeader()->hide();
    m_table->setAlternatingRowColors(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                             QAbstractItemView::AnyKeyPressed);
}

void BudgetView::layOut() {
    auto* controls = new QFormLayout;
    auto* unitRow = new QHBoxLayout;
    unitRow->addWidget(m_budgetBox, 1);
    unitRow->addWidget(m_unitBox);
    controls->addRow(tr("Budget:"), unitRow);
    controls->addRow(QString(), m_slider);
    // Two rows, so that the controls fit a 1024-pixel window.
    auto* curves = new QHBoxLayout;
    curves->addWidget(m_curveBox, 1);
    curves->addWidget(new QLabel(tr("Ranks:")));
    curves->addWidget(m_alignBox);
    controls->addRow(tr("Curves:"), curves);
    auto* weights = new QHBoxLayout;
    weights->addWidget(m_weightingBox, 1);
    weights->addWidget(m_reset);
    weights->addWidget(m_apply);
    controls->addRow(tr("Weights:"), weights);

    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_table);
    splitter->addWidget(m_plot);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addWidget(m_summary);
    layout->addWidget(m_message);
    layout->addWidget(splitter, 1);
}

void BudgetView::connectControls() {
    connect(m_slider, &QSlider::valueChanged, this, [this](int position) {
        if (!m_planner)
            return;
        requestBudget(budgetAt(position));
    });
    connect(m_budgetBox, &QDoubleSpinBox::valueChanged, this, &BudgetView::budgetTyped);
    connect(m_unitBox, &QComboBox::currentIndexChanged, this, [this] {
        m_unit = Unit(m_unitBox->currentData().toInt());
        updateBudgetBox();
    });
    connect(m_curveBox, &QComboBox::currentIndexChanged, this, [this] {
        if (m_curves && m_curveBox->currentIndex() >= 0)
            setCompensation(m_curveBox->currentData().toString());
    });
    connect(m_weightingBox, &QComboBox::currentIndexChanged, this, &BudgetView::rebuildPlanner);
    connect(m_alignBox, &QComboBox::currentIndexChanged, this, &BudgetView::rebuildPlanner);
    connect(m_model, &RankPlanModel::rankEdited, this, [this] {
        m_edited = true;
        std::vector<int64_t> ranks(m_model->planRanks().begin(), m_model->planRanks().end());
        m_shown = m_planner->evaluate(ranks);
        showTotals();
        showBudgetExcess();
        updatePlot();
        emit planChanged();
    });
    connect(m_reset, &QPushButton::clicked, this, [this] {
        m_edited = false;
        m_message->clear();
        replan();
    });
    connect(m_apply, &QPushButton::clicked, this, [this] {
        if (m_curves)
            emit applyRequested(m_curves->experiment.id,
                                fromUtf8(m_curves->compensation.serialize()), currentPlan());
    });
}

void BudgetView::clear() {
    m_curves.reset();
    m_planner.reset();
    m_sizes.reset();
    m_model->setLayers({});
    m_plot->setLayers({}, {}, {});
    {
        const QSignalBlocker block(m_curveBox);
        m_curveBox->clear();
    }
    m_curveBox->setEnabled(false);
    m_summary->setText(tr("Open an experiment with error curves to plan its rank budget."));
    m_message->clear();
    m_slider->setEnabled(false);
    m_budgetBox->setEnabled(false);
    m_apply->setEnabled(false);
    m_reset->setEnabled(false);
    updatePlot();
}

void BudgetView::setCurves(rs::StoredCurves curves) {
    m_curves = std::move(curves);
    m_sensitivities.clear();
    if (m_weightingBox->currentData().toInt() == int(rs::LayerWeighting::Sensitivity))
        m_weightingBox->setCurrentIndex(0);
    fillCurveChoices();
    showLayers();
}

// The experiment's compensations that have curves to plan with, the planned one selected.
void BudgetView::fillCurveChoices() {
    const QSignalBlocker block(m_curveBox);
    m_curveBox->clear();
    for (const std::string& serialized : m_curves->experiment.compensations) {
        const auto config = rs::MethodConfig::parse(serialized, rs::MethodKind::Compensation);
        if (config.spec().traits.curve == rs::ErrorCurve::None)
            continue;
        m_curveBox->addItem(fromUtf8(config.spec().name + " (" + serialized + ")"),
                            fromUtf8(serialized));
    }
    const QString planned = fromUtf8(m_curves->compensation.serialize());
    if (m_curveBox->findData(planned) < 0)
        m_curveBox->addItem(fromUtf8(m_curves->compensation.spec().name), planned);
    m_curveBox->setCurrentIndex(m_curveBox->findData(planned));
    m_curveBox->setEnabled(m_curveBox->count() > 1);
}

void BudgetView::setCompensation(const QString& compensation) {
    if (!m_curves || compensation == this->compensation())
        return;
    m_curves->compensation =
        rs::MethodConfig::parse(compensation.toStdString(), rs::MethodKind::Compensation);
    {
        const QSignalBlocker block(m_curveBox);
        m_curveBox->setCurrentIndex(m_curveBox->findData(compensation));
    }
    showLayers();
}

QString BudgetView::compensation() const {
    return m_curves ? fromUtf8(m_curves->compensation.serialize()) : QString();
}

// The rank table's rows from the planned compensation's curves, then a new plan.
void BudgetView::showLayers() {
    std::vector<RankPlanModel::Layer> rows;
    QStringList names, labels;
    std::vector<int> blocks;
    m_errorEnergy.clear();
    m_outputEnergy.clear();
    for (const rs::LayerRecord& l : m_curves->layers) {
        RankPlanModel::Layer row;
        row.name = fromUtf8(l.name);
        row.outFeatures = l.outFeatures;
        row.inFeatures = l.inFeatures;
        row.maxRank = std::min(l.outFeatures, l.inFeatures);
        const std::vector<double>& curve = rs::storedCurve(l, m_curves->compensation);
        row.curve.reserve(curve.size());
        for (const double e : curve)
            row.curve.push_back(l.errorEnergy > 0 ? e / l.errorEnergy : 0.0);
        rows.push_back(std::move(row));
        m_errorEnergy.push_back(l.errorEnergy);
        m_outputEnergy.push_back(l.outputEnergy);
        names << fromUtf8(l.name);
        labels << plotstyle::layerLabel(l);
        blocks.push_back(int(l.block));
    }
    m_model->setLayers(std::move(rows));
    m_plot->setLayers(names, labels, std::move(blocks));
    try {
        m_sizes = std::make_unique<rs::SizeModel>(
            rs::sizeModelOf(m_curves->model.parameters, m_curves->layers, m_curves->compression));
    } catch (const std::exception& e) {
        m_sizes.reset();
        m_message->setText(fromUtf8(e.what()));
    }
    rebuildPlanner();
}

void BudgetView::setSensitivities(std::vector<double> sensitivities) {
    m_sensitivities = std::move(sensitivities);
    rebuildPlanner();
}

void BudgetView::sensitivitiesUnavailable(const QString& why) {
    if (m_weightingBox->currentData().toInt() != int(rs::LayerWeighting::Sensitivity) ||
        !m_sensitivities.empty())
        return;
    setWeighting(rs::LayerWeighting::Energy);
    m_message->setText(tr("No measured sensitivities: %1").arg(why));
}

void BudgetView::rebuildPlanner() {
    if (!m_curves)
        return;
    const auto weighting = rs::LayerWeighting(m_weightingBox->currentData().toInt());
    if (weighting == rs::LayerWeighting::Sensitivity && m_sensitivities.empty()) {
        m_message->setText(tr("Measuring layer sensitivities…"));
        emit sensitivitiesRequested(m_curves->experiment.id);
        return;
    }
    const qint64 previous = m_budget;
    const bool first = !m_planner;
    try {
        rs::PlanConstraints constraints;
        constraints.align = m_alignBox->currentData().toInt();
        m_planner = std::make_unique<rs::RankPlanner>(
            rs::planLayers(m_curves->layers, m_curves->compensation, weighting, m_sensitivities),
            constraints);
        m_message->clear();
    } catch (const std::exception& e) {
        m_planner.reset();
        m_message->setText(fromUtf8(e.what()));
        m_slider->setEnabled(false);
        m_budgetBox->setEnabled(false);
        m_apply->setEnabled(false);
        return;
    }
    m_slider->setEnabled(true);
    m_budgetBox->setEnabled(true);
    updateApplyEnabled();
    m_reset->setEnabled(true);
    // Start at the cost of uniform rank 8 (clamped), the most common choice to improve on.
    const qint64 start = first ? m_planner->uniform(8).parameters : previous;
    m_budget = -1;
    setBudget(start);
}

void BudgetView::setBudget(qint64 parameters) {
    if (!m_planner)
        return;
    m_message->clear();
    parameters =
        std::clamp<qint64>(parameters, m_planner->minParameters(), m_planner->maxParameters());
    if (parameters == m_budget && !m_edited)
        return;
    m_budget = parameters;
    m_edited = false;
    {
        const QSignalBlocker block(m_slider);
        m_slider->setValue(sliderPosition(parameters));
    }
    replan();
    updateBudgetBox();
}

// The box reaches down to no adapter at all, so that a budget below the smallest plan is
// answered (planned at the smallest, and said so) rather than silently reverted.
void BudgetView::budgetTyped(double value) {
    if (!m_planner)
        return;
    const qint64 lowest = m_planner->minParameters();
    const double lowestValue = toUnit(lowest);
    const bool below = value < lowestValue;
    requestBudget(below ? lowest : fromUnit(value));
    updateBudgetBox();
    if (below) {
        const auto shown = [this](double v) {
            return m_budgetBox->textFromValue(v) + m_budgetBox->suffix();
        };
        m_message->setText(tr("A budget of %1 is below the smallest plan, %2 (every layer at its "
                              "lowest rank): planned for that.")
                               .arg(shown(value), shown(lowestValue)));
    }
}

void BudgetView::requestBudget(qint64 parameters) {
    if (!m_planner || parameters == m_budget)
        return;
    if (!m_edited) {
        setBudget(parameters);
        return;
    }
    // The controls show the budget in force while the question is open, and after "keep".
    {
        const QSignalBlocker block(m_slider);
        m_slider->setValue(sliderPosition(m_budget));
    }
    updateBudgetBox();
    auto* box = new QMessageBox(QMessageBox::Question, tr("Discard Rank Edits?"),
                                tr("Planning for a new budget replaces the ranks you edited in "
                                   "the table."),
                                QMessageBox::Discard | QMessageBox::Cancel, this);
    box->setObjectName(QStringLiteral("discardEditsBox"));
    box->setDefaultButton(QMessageBox::Cancel);
    box->button(QMessageBox::Discard)->setText(tr("Discard Edits"));
    box->button(QMessageBox::Cancel)->setText(tr("Keep Edits"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowModality(Qt::WindowModal);
    connect(box, &QMessageBox::finished, this, [this, parameters](int result) {
        if (result == QMessageBox::Discard)
            setBudget(parameters);
    });
    box->open();
}

void BudgetView::setJobRunning(bool running) {
    m_jobRunning = running;
    updateApplyEnabled();
}

void BudgetView::updateApplyEnabled() {
    m_apply->setEnabled(m_planner && !m_jobRunning);
    m_apply->setToolTip(m_jobRunning
                            ? tr("Another job is running: apply the plan when it has finished")
                            : tr("Compensate with this plan and evaluate it as a new experiment"));
}

// An edited plan may cost more than the budget: said, with by how much, never silently.
void BudgetView::showBudgetExcess() {
    const qint64 over = qint64(m_shown.parameters) - m_budget;
    if (over <= 0) {
        m_message->clear();
        return;
    }
    const QLocale locale;
    m_message->setText(tr("The edited plan uses %1 parameters, %2 over the budget of %3.")
                           .arg(locale.toString(qint64(m_shown.parameters)), locale.toString(over),
                                locale.toString(m_budget)));
}

void BudgetView::setUnit(Unit unit) {
    m_unitBox->setCurrentIndex(m_unitBox->findData(int(unit)));
}

void BudgetView::setWeighting(rs::LayerWeighting weighting) {
    m_weightingBox->setCurrentIndex(m_weightingBox->findData(int(weighting)));
}

void BudgetView::setAlignment(int align) {
    m_alignBox->setCurrentIndex(m_alignBox->findData(align));
}

qint64 BudgetView::budgetAt(int position) const {
    const double t = std::pow(double(position) / kSliderSteps, kSliderPower);
    const qint64 lo = m_planner->minParameters(), hi = m_planner->maxParameters();
    return lo + qint64(std::llround(t * double(hi - lo)));
}

int BudgetView::sliderPosition(qint64 parameters) const {
    const qint64 lo = m_planner->minParameters(), hi = m_planner->maxParameters();
    if (hi <= lo)
        return 0;
    const double t = double(parameters - lo) / double(hi - lo);
    return int(std::lround(kSliderSteps * std::pow(std::clamp(t, 0.0, 1.0), 1.0 / kSliderPower)));
}

void BudgetView::replan() {
    QElapsedTimer clock;
    clock.start();
    m_optimal = m_planner->optimal(m_budget);
    // The uniform plan of the same budget: the largest rank whose plan fits it.
    int lo = 0, hi = 0;
    for (const auto& layer : m_planner->layers())
        hi = std::max<int>(hi, int(std::min(layer.outFeatures, layer.inFeatures)));
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (m_planner->uniform(mid).parameters <= m_budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    m_uniformRank = lo;
    m_uniform = m_planner->uniform(lo);
    m_shown = m_optimal;
    m_model->setRanks(std::vector<qint64>(m_uniform.ranks.begin(), m_uniform.ranks.end()),
                      std::vector<qint64>(m_shown.ranks.begin(), m_shown.ranks.end()));
    showTotals();
    updatePlot();
    m_lastReplanMs = double(clock.nsecsElapsed()) / 1e6;
    emit planChanged();
}

void BudgetView::updateBudgetBox() {
    const QSignalBlocker block(m_budgetBox);
    if (!m_planner) {
        m_budgetBox->setValue(0);
        return;
    }
    const int decimals = m_unit == Unit::Parameters ? 0 : 3;
    m_budgetBox->setDecimals(decimals);
    // From zero, so that a budget below the smallest plan is answered, not reverted (budgetTyped).
    m_budgetBox->setRange(0.0, toUnit(m_planner->maxParameters()));
    m_budgetBox->setSingleStep(m_unit == Unit::Parameters ? 1000.0 : 0.01);
    m_budgetBox->setSuffix(m_unit == Unit::Parameters ? tr(" params")
                           : m_unit == Unit::Percent  ? tr(" %")
                                                      : tr(" bpw"));
    m_budgetBox->setValue(toUnit(m_budget));
}

double BudgetView::toUnit(qint64 parameters) const {
    if (m_unit == Unit::Parameters || !m_sizes)
        return double(parameters);
    return m_unit == Unit::Percent ? m_sizes->percentOfModel(parameters)
                                   : m_sizes->bitsPerWeight(parameters);
}

qint64 BudgetView::fromUnit(double value) const {
    if (m_unit == Unit::Parameters || !m_sizes)
        return qint64(std::llround(value));
    try {
        return m_unit == Unit::Percent ? m_sizes->parametersForPercent(value)
                                       : m_sizes->parametersForBitsPerWeight(value);
    } catch (const std::exception&) {
        return m_planner ? m_planner->minParameters() : 0;
    }
}

void BudgetView::updatePlot() {
    m_plot->setRanks(m_model->uniformRanks(), m_model->planRanks());
}

rs::RankPlan BudgetView::currentPlan() const {
    rs::RankPlan plan;
    if (!m_planner)
        return plan;
    rs::Plan shown = m_shown;
    return rs::toRankPlan(*m_planner, shown);
}

} // namespace rs::ui
