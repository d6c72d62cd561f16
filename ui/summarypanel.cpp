#include "summarypanel.h"

#include "model/summary.h"
#include "utf8.h"
#include "util/text.h"

#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QScrollArea>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace rs::ui {

namespace {

QString count(int64_t value) {
    return fromUtf8(rs::formatCount(value));
}

QString labelName(const QString& field) {
    return QStringLiteral("summary_") + field;
}

} // namespace

SummaryPanel::SummaryPanel(QWidget* parent)
    : QWidget(parent)
    , m_pages(new QStackedWidget(this))
    , m_form(new QFormLayout)
    , m_title(new QLabel(this))
    , m_warning(new QLabel(this)) {
    auto* hint = new QLabel(tr("<p><b>No model open.</b></p>"
                               "<p>Use <i>File ▸ Open Model Directory…</i> for a Hugging Face "
                               "directory (config.json + safetensors) or <i>File ▸ Open llama2.c "
                               "File…</i> for a .bin checkpoint, or drop either onto this "
                               "window.</p>"));
    hint->setObjectName(QStringLiteral("summaryHint"));
    hint->setWordWrap(true);
    hint->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    hint->setMargin(8);
    m_pages->addWidget(hint);

    auto* details = new QWidget;
    m_title->setObjectName(labelName(QStringLiteral("name")));
    QFont titleFont = m_title->font();
    titleFont.setBold(true);
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.25);
    m_title->setFont(titleFont);
    m_title->setWordWrap(true);
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_form->setLabelAlignment(Qt::AlignLeft);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    m_form->setRowWrapPolicy(QFormLayout::DontWrapRows);
    m_form->setHorizontalSpacing(12);
    addField(QStringLiteral("architecture"), tr("Architecture"));
    addField(QStringLiteral("format"), tr("Format"));
    addField(QStringLiteral("dimensions"), tr("Hidden / MLP"));
    addField(QStringLiteral("layers"), tr("Layers"));
    addField(QStringLiteral("heads"), tr("Heads / KV heads"));
    addField(QStringLiteral("headDim"), tr("Head dim"));
    addField(QStringLiteral("vocab"), tr("Vocabulary"));
    addField(QStringLiteral("context"), tr("Context"));
    addField(QStringLiteral("parameters"), tr("Parameters"));
    addField(QStringLiteral("linearParameters"), tr("In linears"));
    addField(QStringLiteral("tokenizer"), tr("Tokenizer"));

    auto* detailsLayout = new QVBoxLayout(details);
    detailsLayout->setContentsMargins(8, 8, 8, 8);
    detailsLayout->addWidget(m_title);
    m_warning->setObjectName(labelName(QStringLiteral("warning")));
    m_warning->setWordWrap(true);
    m_warning->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_warning->setStyleSheet(QStringLiteral("QLabel { color: #9a5b00; }"));
    m_warning->hide();
    detailsLayout->addWidget(m_warning); // under the title: seen before any scrolling
    detailsLayout->addSpacing(6);
    detailsLayout->addLayout(m_form);
    detailsLayout->addStretch(1);

    auto* scroll = new QScrollArea;
    scroll->setWidget(details);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    m_pages->addWidget(scroll);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_pages);
}

QLabel* SummaryPanel::addField(const QString& field, const QString& label) {
    auto* value = new QLabel;
    value->setObjectName(labelName(field));
    value->setWordWrap(true);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_form->addRow(label + QLatin1Char(':'), value);
    return value;
}

void SummaryPanel::showSummary(const QString& modelPath, const rs::ModelSummary& s,
                               const QString& tokenizer) {
    const rs::ModelConfig& c = s.config;
    auto set = [this](const char* field, const QString& text) {
        if (auto* label = findChild<QLabel*>(labelName(QLatin1String(field))))
            label->setText(text);
    };
    const QFileInfo info(modelPath);
    m_title->setText(info.fileName().isEmpty() ? modelPath : info.fileName());
    m_title->setToolTip(QDir::toNativeSeparators(modelPath));
    set("architecture", fromUtf8(s.architecture));
    set("format", tr("%1, %2").arg(fromUtf8(s.format), fromUtf8(s.storedDtype)));
    set("dimensions", tr("%1 / %2").arg(count(c.hiddenSize), count(c.intermediateSize)));
    set("layers", count(c.numLayers));
    set("heads", tr("%1 / %2").arg(count(c.numHeads), count(c.numKvHeads)));
    set("headDim", count(c.headDim));
    set("vocab", tr("%1 tokens").arg(count(c.vocabSize)));
    set("context", tr("%1 positions").arg(count(c.maxPositions)));
    set("parameters", tr("%1 total").arg(count(s.totalParameters)));
    set("linearParameters",
        tr("%1 in %2 layers").arg(count(s.linearParameters), count(int64_t(s.linears.size()))));
    set("tokenizer", tokenizer.isEmpty() ? tr("none found") : tokenizer);
    showUnusedTensors(s.unusedTensors);
    m_pages->setCurrentIndex(1);
}

void SummaryPanel::showUnusedTensors(const std::vector<std::string>& names) {
    constexpr size_t kNamed = 5;
    QStringList shown;
    for (size_t i = 0; i < std::min(names.size(), kNamed); ++i)
        shown << fromUtf8(names[i]);
    if (names.size() > kNamed)
        shown << tr("and %n more", nullptr, int(names.size() - kNamed));
    m_warning->setText(names.empty() ? QString()
                                     : tr("⚠ %n tensor(s) in the files are not used by the "
                                          "config and not counted: %1",
                                          nullptr, int(names.size()))
                                           .arg(shown.join(QStringLiteral(", "))));
    m_warning->setVisible(!names.empty());
}

void SummaryPanel::clear() {
    m_title->clear();
    m_warning->hide();
    for (QLabel* label : findChildren<QLabel*>()) {
        if (label->objectName().startsWith(QLatin1String("summary_")))
            label->clear();
    }
    m_pages->setCurrentIndex(0);
}

QString SummaryPanel::fieldText(const QString& field) const {
    const auto* label = findChild<QLabel*>(labelName(field));
    return label ? label->text() : QString();
}

} // namespace rs::ui
