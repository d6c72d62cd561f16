#include "exportdialog.h"

#include "export/export_job.h"
#include "methods/registry.h"
#include "pipeline/recording.h"
#include "store/records.h"
#include "utf8.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QToolButton>
#include <optional>

namespace rs::ui {

ExportDialog::ExportDialog(qint64 experiment, const Choices& choices, QWidget* parent)
    : QDialog(parent)
    , m_experiment(experiment)
    , m_format(new QComboBox)
    , m_variant(new QComboBox)
    , m_dtype(new QComboBox)
    , m_folder(new QLineEdit)
    , m_force(new QCheckBox(tr("Replace an earlier export in that folder")))
    , m_help(new QLabel)
    , m_problem(new QLabel)
    , m_warning(new QLabel)
    , m_gptqDense(choices.gptqDense)
    , m_linearCount(choices.linearCount) {
    setObjectName(QStringLiteral("exportDialog"));
    setWindowTitle(tr("Export Checkpoint of Experiment %1").arg(experiment));
    m_format->setObjectName(QStringLiteral("exportFormat"));
    m_format->addItem(tr("GPTQ base + PEFT LoRA adapter"), QStringLiteral("gptq+peft"));
    m_format->addItem(tr("Merged dense weights (W_c + B A)"), QStringLiteral("merged"));
    m_format->addItem(tr("Factorized (two linears per layer)"), QStringLiteral("factorized"));
    m_format->addItem(tr("GGUF base + GGUF LoRA adapter (llama.cpp)"), QStringLiteral("gguf"));
    m_variant->setObjectName(QStringLiteral("exportVariant"));
    fillVariants(choices);
    // GPTQ by default, unless it would keep linears dense (then merged weights are smaller).
    if (!m_gptqDense.empty())
        m_format->setCurrentIndex(m_format->findData(QStringLiteral("merged")));
    m_dtype->setObjectName(QStringLiteral("exportDtype"));
    m_dtype->addItem(tr("as the source model"), QString());
    for (const char* dtype : {"float32", "bfloat16", "float16"})
        m_dtype->addItem(QString::fromLatin1(dtype), QString::fromLatin1(dtype));
    m_folder->setObjectName(QStringLiteral("exportFolder"));
    m_folder->setPlaceholderText(tr("A new folder for the checkpoint"));
    m_help->setWordWrap(true);
    m_problem->setObjectName(QStringLiteral("exportProblem"));
    m_problem->setStyleSheet(QStringLiteral("color: #b00020"));
    m_warning->setObjectName(QStringLiteral("exportWarning"));
    m_warning->setWordWrap(true);
    m_warning->setStyleSheet(QStringLiteral("color: #8a5a00"));

    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    connect(browse, &QToolButton::clicked, this, [this] {
        const QString dir =
            QFileDialog::getSaveFileName(this, tr("Export Folder"), m_folder->text());
        if (!dir.isEmpty())
            m_folder->setText(dir);
    });
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    folderRow->addWidget(browse);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Format:"), m_format);
    form->addRow(QString(), m_help);
    form->addRow(tr("Variant:"), m_variant);
    form->addRow(tr("Dtype:"), m_dtype);
    form->addRow(tr("Folder:"), folderRow);
    form->addRow(QString(), m_force);
    form->addRow(m_warning);
    form->addRow(m_problem);
    form->addRow(buttons);

    const auto refresh = [this, buttons] {
        update();
        buttons->button(QDialogButtonBox::Ok)->setEnabled(problem().isEmpty());
    };
    connect(m_format, &QComboBox::currentIndexChanged, this, refresh);
    connect(m_folder, &QLineEdit::textChanged, this, refresh);
    connect(m_dtype, &QComboBox::currentIndexChanged, this, refresh);
    refresh();
}

void ExportDialog::update() {
    const QString format = m_format->currentData().toString();
    m_dtype->setEnabled(format == QLatin1String("merged") || format == QLatin1String("gguf"));
    if (format == QLatin1String("gptq+peft"))
        m_help->setText(tr("The quantized base in the GPTQ v1 format with the compensation as a "
                           "PEFT LoRA adapter (every scale 1). Layers the format cannot hold "
                           "stay dense and are listed in the quantization config. vLLM runs "
                           "4- and 8-bit grids compressed with sym=true on its fast Marlin "
                           "kernel, others on its slower GPTQ kernel."));
    else if (format == QLatin1String("merged"))
        m_help->setText(tr("Dense W_c + B A in the original layout: loads in any Hugging "
                           "Face-compatible runtime."));
    else if (format == QLatin1String("gguf"))
        m_help->setText(tr("model.gguf for llama.cpp, Ollama and LM Studio, with the compensation "
                           "as adapter.gguf (--lora). Layers compressed with q8_0 or q4_0 are "
                           "stored in those llama.cpp types, bit for bit; others in float32 or "
                           "float16."));
    else
        m_help->setText(tr("Each compensated layer as its base and two factors "
                           "(low_rank.0 = A, low_rank.1 = B); the ranks are listed in "
                           "config.json."));
    m_warning->setText(warning());
    m_warning->setVisible(!m_warning->text().isEmpty());
    m_problem->setText(problem());
}

// Each variant that fits factors, with its perplexity and adapter size; the best one selected.
void ExportDialog::fillVariants(const Choices& choices) {
    const QLocale locale;
    int best = -1;
    double bestPerplexity = 0.0;
    bool bestInputAware = false;
    for (const rs::VariantRecord& v : choices.variants) {
        const rs::MethodSpec* method = rs::recordedMethod(v);
        if (!method || !method->fitsFactors())
            continue;
        std::optional<double> perplexity;
        for (const rs::EvaluationRecord& e : choices.evaluations)
            if (e.variant == v.index)
                perplexity = e.perplexity;
        QString text = fromUtf8(v.label);
        if (perplexity)
            text += tr(" — perplexity %1").arg(locale.toString(*perplexity, 'f', 3));
        text += tr(", %1 adapter params").arg(locale.toString(qint64(v.adapterParameters)));
        m_variant->addItem(text, fromUtf8(v.label));
        const bool inputAware = method->traits.weighting == rs::InputWeighting::Gram;
        const bool better =
            perplexity ? (best < 0 || bestPerplexity <= 0.0 || *perplexity < bestPerplexity)
                       : (best < 0 || (inputAware && !bestInputAware));
        if (better && (perplexity || bestPerplexity <= 0.0)) {
            best = m_variant->count() - 1;
            bestPerplexity = perplexity.value_or(0.0);
            bestInputAware = inputAware;
        }
    }
    if (best >= 0)
        m_variant->setCurrentIndex(best);
}

QString ExportDialog::warning() const {
    if (m_format->currentData().toString() != QLatin1String("gptq+peft") || m_gptqDense.empty())
        return {};
    return tr("%1 of %2 linears stay dense in GPTQ format (%3: %4), so this export may be larger "
              "than the original model. Merged or GGUF exports keep every layer compact.")
        .arg(m_gptqDense.size())
        .arg(m_linearCount)
        .arg(fromUtf8(m_gptqDense.front().first), fromUtf8(m_gptqDense.front().second));
}

QString ExportDialog::problem() const {
    if (m_variant->count() == 0)
        return tr("This experiment has no compensated variant to export.");
    if (m_folder->text().trimmed().isEmpty())
        return tr("Choose the folder to write.");
    if (m_format->currentData().toString() == QLatin1String("gguf") && m_dtype->isEnabled() &&
        m_dtype->currentData().toString() == QLatin1String("bfloat16"))
        return tr("GGUF stores float32 or float16 tensors, not bfloat16.");
    return {};
}

rs::ExportRequest ExportDialog::request() const {
    rs::ExportRequest request;
    request.experimentId = m_experiment;
    request.format = *rs::parseExportFormat(m_format->currentData().toString().toStdString());
    request.dtype =
        m_dtype->isEnabled() ? m_dtype->currentData().toString().toStdString() : std::string();
    request.variant = m_variant->currentData().toString().toStdString();
    request.outDir = std::filesystem::path(
        QFile::encodeName(QFileInfo(m_folder->text().trimmed()).absoluteFilePath()).toStdString());
    request.force = m_force->isChecked();
    return request;
}

} // namespace rs::ui
