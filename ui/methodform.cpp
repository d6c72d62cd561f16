#include "methodform.h"

#include "compactcombo.h"
#include "paramlabels.h"
#include "utf8.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>
#include <QVBoxLayout>
#include <cmath>

namespace rs::ui {

namespace {

// Decimals enough to show every step of a Float range without rounding the default away.
constexpr int kFloatDecimals = 3;

} // namespace

MethodForm::MethodForm(rs::MethodKind kind, QWidget* parent)
    : QWidget(parent)
    , m_kind(kind)
    , m_method(compactCombo(new QComboBox))
    , m_params(new QFormLayout) {
    m_method->setObjectName(QStringLiteral("methodBox"));
    for (const rs::MethodSpec* spec : rs::methodsOfKind(kind)) {
        m_method->addItem(fromUtf8(spec->name), fromUtf8(spec->id));
        m_method->setItemData(m_method->count() - 1, fromUtf8(spec->description), Qt::ToolTipRole);
    }
    m_params->setContentsMargins(0, 0, 0, 0);
    m_params->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_method);
    layout->addLayout(m_params);
    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        rebuildParameters();
        emit changed();
    });
    rebuildParameters();
}

QWidget* MethodForm::parameterWidget(const QString& key) const {
    const auto it = m_controls.find(key);
    return it == m_controls.end() ? nullptr : it->second;
}

void MethodForm::rebuildParameters() {
    while (m_params->rowCount() > 0)
        m_params->removeRow(0);
    m_controls.clear();
    const std::string id = toUtf8(m_method->currentData().toString());
    const rs::MethodSpec* spec = rs::findMethod(id, m_kind);
    if (!spec)
        return;
    m_method->setToolTip(fromUtf8(spec->description));
    for (const rs::ParamSpec& param : spec->params) {
        QWidget* control = createControl(param);
        control->setObjectName(QStringLiteral("param_") + fromUtf8(param.key));
        control->setToolTip(fromUtf8(param.help));
        m_controls[fromUtf8(param.key)] = control;
        if (param.type == rs::ParamType::Bool)
            m_params->addRow(control);
        else
            m_params->addRow(paramLabel(param.label) + QLatin1Char(':'), control);
    }
}

QWidget* MethodForm::createControl(const rs::ParamSpec& spec) {
    const QString def = fromUtf8(spec.defaultValue);
    QWidget* control = nullptr;
    if (spec.type == rs::ParamType::Bool) {
        auto* box = new QCheckBox(paramLabel(spec.label));
        connect(box, &QCheckBox::toggled, this, &MethodForm::changed);
        control = box;
    } else if (!spec.choices.empty()) {
        auto* box = compactCombo(new QComboBox);
        for (const std::string& choice : spec.choices)
            box->addItem(fromUtf8(choice), fromUtf8(choice));
        connect(box, &QComboBox::currentIndexChanged, this, &MethodForm::changed);
        control = box;
    } else if (spec.type == rs::ParamType::Int) {
        auto* box = new QSpinBox;
        box->setRange(int(spec.minValue), int(spec.maxValue));
        connect(box, &QSpinBox::valueChanged, this, &MethodForm::changed);
        control = box;
    } else {
        auto* box = new QDoubleSpinBox;
        box->setDecimals(kFloatDecimals);
        box->setRange(spec.minValue, spec.maxValue);
        box->setSingleStep(std::pow(
            10.0, std::floor(std::log10(std::max(1e-3, (spec.maxValue - spec.minValue) / 20.0)))));
        connect(box, &QDoubleSpinBox::valueChanged, this, &MethodForm::changed);
        control = box;
    }
    showValue(spec, control, def);
    return control;
}

QString MethodForm::valueOf(const rs::ParamSpec& spec, const QWidget* control) {
    if (const auto* box = qobject_cast<const QCheckBox*>(control))
        return box->isChecked() ? QStringLiteral("true") : QStringLiteral("false");
    if (const auto* box = qobject_cast<const QComboBox*>(control))
        return box->currentData().toString();
    if (const auto* box = qobject_cast<const QSpinBox*>(control))
        return QString::number(box->value());
    if (const auto* box = qobject_cast<const QDoubleSpinBox*>(control))
        return QString::number(box->value(), 'g', 10);
    return fromUtf8(spec.defaultValue);
}

void MethodForm::showValue(const rs::ParamSpec&, QWidget* control, const QString& value) {
    const QSignalBlocker block(control);
    if (auto* box = qobject_cast<QCheckBox*>(control))
        box->setChecked(value == QLatin1String("true"));
    else if (auto* box = qobject_cast<QComboBox*>(control))
        box->setCurrentIndex(std::max(0, box->findData(value)));
    else if (auto* box = qobject_cast<QSpinBox*>(control))
        box->setValue(value.toInt());
    else if (auto* box = qobject_cast<QDoubleSpinBox*>(control))
        box->setValue(value.toDouble());
}

rs::MethodConfig MethodForm::config() const {
    rs::MethodConfig config =
        rs::MethodConfig::defaults(toUtf8(m_method->currentData().toString()), m_kind);
    for (const rs::ParamSpec& param : config.spec().params)
        config.set(param.key, toUtf8(valueOf(param, parameterWidget(fromUtf8(param.key)))));
    return config;
}

QString MethodForm::serialized() const {
    return fromUtf8(config().serialize());
}

void MethodForm::setConfig(const rs::MethodConfig& config) {
    const int index = m_method->findData(fromUtf8(config.id()));
    if (index < 0)
        return;
    {
        const QSignalBlocker block(m_method);
        m_method->setCurrentIndex(index);
        rebuildParameters();
    }
    for (const rs::ParamSpec& param : config.spec().params)
        if (QWidget* control = parameterWidget(fromUtf8(param.key)))
            showValue(param, control, fromUtf8(config.text(param.key)));
    emit changed();
}

bool MethodForm::setSerialized(const QString& text) {
    try {
        setConfig(rs::MethodConfig::parse(toUtf8(text), m_kind));
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

} // namespace rs::ui
