#include "lowrankoptions.h"

#include "compactcombo.h"
#include "methodform.h"
#include "util/error.h"
#include "util/lists.h"

#include <QComboBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QLocale>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace rs::ui {

namespace {

constexpr int kMaxRank = 1 << 16;

} // namespace

std::optional<std::vector<double>> parseReductions(const QString& text) {
    try {
        return rs::parsePercentList(text.toStdString(), "reductions");
    } catch (const rs::Error&) {
        return std::nullopt;
    }
}

LowRankOptions::LowRankOptions(QWidget* parent)
    : QWidget(parent)
    , m_method(new MethodForm(rs::MethodKind::LowRank))
    , m_sizes(compactCombo(new QComboBox))
    , m_sizePages(new QStackedWidget)
    , m_reductions(new QLineEdit(QStringLiteral("20, 40")))
    , m_rank(new QSpinBox) {
    m_method->setObjectName(QStringLiteral("lowRankForm"));
    m_method->setSerialized(QStringLiteral("lord-data"));
    m_sizes->setObjectName(QStringLiteral("lowRankSizes"));
    m_sizes->addItem(tr("Parameter reductions"), int(Sizes::Reductions));
    m_sizes->addItem(tr("One uniform rank"), int(Sizes::UniformRank));
    m_reductions->setObjectName(QStringLiteral("lowRankReductions"));
    m_reductions->setToolTip(tr("Percentages of the selected linears' weights to remove, "
                                "separated by commas; one variant each"));
    m_rank->setObjectName(QStringLiteral("lowRankRank"));
    m_rank->setRange(1, kMaxRank);
    m_rank->setValue(8);
    m_rank->setToolTip(tr("Every selected linear becomes a rank-r factor pair"));
    m_sizePages->addWidget(m_reductions);
    m_sizePages->addWidget(m_rank);

    auto* form = new QFormLayout;
    form->addRow(tr("Sizes:"), m_sizes);
    form->addRow(tr("Values:"), m_sizePages);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_method);
    layout->addLayout(form);

    connect(m_sizes, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_sizePages->setCurrentIndex(index);
        emit changed();
    });
    connect(m_reductions, &QLineEdit::textChanged, this, [this] {
        m_reductions->setStyleSheet(
            parseReductions(m_reductions->text()) ? QString() : QStringLiteral("color: #b00020"));
        emit changed();
    });
    connect(m_rank, &QSpinBox::valueChanged, this, &LowRankOptions::changed);
    connect(m_method, &MethodForm::changed, this, &LowRankOptions::changed);
}

bool LowRankOptions::valid() const {
    return Sizes(m_sizes->currentData().toInt()) == Sizes::UniformRank ||
           parseReductions(m_reductions->text()).has_value();
}

bool LowRankOptions::fill(rs::LowRankRequest& request, QString* problem) const {
    try {
        request.method = m_method->config();
    } catch (const std::exception& e) {
        if (problem)
            *problem = QString::fromUtf8(e.what());
        return false;
    }
    if (Sizes(m_sizes->currentData().toInt()) == Sizes::UniformRank) {
        request.uniformRank = m_rank->value();
        return true;
    }
    const auto reductions = parseReductions(m_reductions->text());
    if (!reductions) {
        if (problem)
            *problem = tr("Reductions must be percentages between 0 and 100 separated by commas.");
        return false;
    }
    request.uniformRank = 0;
    request.reductions = *reductions;
    return true;
}

void LowRankOptions::set(const rs::LowRankRequest& request) {
    m_method->setConfig(request.method);
    setSizes(request.uniformRank > 0 ? Sizes::UniformRank : Sizes::Reductions);
    if (request.uniformRank > 0)
        m_rank->setValue(int(std::min<int64_t>(request.uniformRank, kMaxRank)));
    QStringList reductions;
    for (const double percent : request.reductions)
        reductions << QString::number(percent);
    if (!reductions.isEmpty())
        m_reductions->setText(reductions.join(QStringLiteral(", ")));
}

void LowRankOptions::setSizes(Sizes sizes) {
    m_sizes->setCurrentIndex(m_sizes->findData(int(sizes)));
}
void LowRankOptions::setReductions(const QString& text) {
    m_reductions->setText(text);
}
void LowRankOptions::setRank(int rank) {
    m_rank->setValue(rank);
}

void LowRankOptions::saveSettings(QSettings& settings) const {
    settings.setValue(QStringLiteral("lowRankMethod"), m_method->serialized());
    settings.setValue(QStringLiteral("lowRankSizes"), m_sizes->currentIndex());
    settings.setValue(QStringLiteral("lowRankReductions"), m_reductions->text());
    settings.setValue(QStringLiteral("lowRankRank"), m_rank->value());
}

void LowRankOptions::restoreSettings(const QSettings& settings) {
    if (!settings.contains(QStringLiteral("lowRankMethod")))
        return;
    m_method->setSerialized(settings.value(QStringLiteral("lowRankMethod")).toString());
    m_sizes->setCurrentIndex(settings.value(QStringLiteral("lowRankSizes")).toInt());
    m_reductions->setText(settings.value(QStringLiteral("lowRankReductions")).toString());
    m_rank->setValue(settings.value(QStringLiteral("lowRankRank")).toInt());
}

} // namespace rs::ui
