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
#include <QPushButton>
#include <QToolButton>

namespace rs::ui {

ExportDialog::ExportDialog(qint64 experiment, const std::vector<rs::VariantRecord>& variants,
                           QWidget* parent)
    : QDialog(parent)
    , m_experiment(experiment)
    , m_format(new QComboBox)
    , m_variant(new QComboBox)
    , m_dtype(new QComboBox)
    , m_folder(new QLineEdit)
    , m_force(new QCheckBox(tr("Replace an earlier export in that folder")))
    , m_help(new QLabel)
    , m_problem(new QLabel) {
    setObjectName(QStringLiteral("exportDialog"));
    setWindowTitle(tr("Export Checkpoint of Experiment %1").arg(experiment));
    m_format->setObjectName(QStringLiteral("exportFormat"));
    m_format->addItem(tr("GPTQ base + PEFT LoRA adapter"), QStringLiteral("gptq+peft"));
    m_format->addItem(tr("Merged dense weights (W_c + B A)"), QStringLiteral("merged"));
    m_format->addItem(tr("Factorized (two linears per layer)"), QStringLiteral("factorized"));
    m_format->addItem(tr("GGUF base + GGUF LoRA adapter (llama.cpp)"), QStringLiteral("gguf"));
    m_variant->setObjectName(QStringLiteral("exportVariant"));
    for (const rs::VariantRecord& v : variants)
        if (const rs::MethodSpec* method = rs::recordedMethod(v); method && method->fitsFactors())
            m_variant->addItem(fromUtf8(v.label), fromUtf8(v.label));
    m_dtype->setObjectName(QStringLiteral("exportDtype"));
    m_dtype->addItem(tr("as the source model"), QString());
    for (const char* dtype : {"float32", "bfloat16", "float16"})
        m_dtype->addItem(QString::fromLatin1(dtype), QString::fromLatin1(dtype));
    m_folder->setObjectName(QStringLiteral("exportFolder"));
    m_folder->setPlaceholderText(tr("A new folder for the checkpoint"));
    m_help->setWordWrap(true);
    m_problem->setObjectName(QStringLiteral("exportProblem"));
    m_problem->setStyleSheet(QStringLiteral("color: #b00020"));

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
    m_problem->setText(problem());
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
