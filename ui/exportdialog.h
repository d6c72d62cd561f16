#pragma once

#include <QDialog>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;

#include "store/records.h"

#include <string>
#include <utility>

namespace rs {
struct ExportRequest;
} // namespace rs

namespace rs::ui {

// Export of a finished experiment as a deployment-ready checkpoint: the format (GPTQ base + PEFT
// adapter, merged, factorized), the variant, the dtype of merged weights and the output folder.
// It only collects the choices; the main window runs the export pipeline in the background.
class ExportDialog : public QDialog {
    Q_OBJECT

public:
    // What the dialog offers: the experiment's variants with their perplexities, and the linears
    // a GPTQ export would keep dense (rs::gptqDenseLayers) out of all of them.
    struct Choices {
        std::vector<rs::VariantRecord> variants;
        std::vector<rs::EvaluationRecord> evaluations;
        std::vector<std::pair<std::string, std::string>> gptqDense;
        size_t linearCount = 0;
    };

    // Selects the variant of lowest perplexity (input-aware methods first when none was
    // evaluated) and the GPTQ format unless that would keep linears dense.
    ExportDialog(qint64 experiment, const Choices& choices, QWidget* parent = nullptr);

    rs::ExportRequest request() const;
    // Empty when the choices can be exported, else why not (no folder chosen, ...).
    QString problem() const;

    QComboBox* formatBox() const { return m_format; }
    QComboBox* variantBox() const { return m_variant; }
    QComboBox* dtypeBox() const { return m_dtype; }
    QLineEdit* folderEdit() const { return m_folder; }
    QCheckBox* forceBox() const { return m_force; }
    // The warning about the chosen format (GPTQ keeping linears dense); empty when none.
    QString warning() const;

private:
    void fillVariants(const Choices& choices);
    void update();

    qint64 m_experiment;
    QComboBox* m_format;
    QComboBox* m_variant;
    QComboBox* m_dtype;
    QLineEdit* m_folder;
    QCheckBox* m_force;
    QLabel* m_help;
    QLabel* m_problem;
    QLabel* m_warning;
    std::vector<std::pair<std::string, std::string>> m_gptqDense;
    size_t m_linearCount = 0;
};

} // namespace rs::ui
