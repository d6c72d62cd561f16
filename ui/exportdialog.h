#pragma once

#include <QDialog>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;

namespace rs {
struct ExportRequest;
struct VariantRecord;
} // namespace rs

namespace rs::ui {

// Export of a finished experiment as a deployment-ready checkpoint: the format (GPTQ base + PEFT
// adapter, merged, factorized), the variant, the dtype of merged weights and the output folder.
// It only collects the choices; the main window runs the export pipeline in the background.
class ExportDialog : public QDialog {
    Q_OBJECT

public:
    ExportDialog(qint64 experiment, const std::vector<rs::VariantRecord>& variants,
                 QWidget* parent = nullptr);

    rs::ExportRequest request() const;
    // Empty when the choices can be exported, else why not (no folder chosen, ...).
    QString problem() const;

    QComboBox* formatBox() const { return m_format; }
    QComboBox* variantBox() const { return m_variant; }
    QComboBox* dtypeBox() const { return m_dtype; }
    QLineEdit* folderEdit() const { return m_folder; }
    QCheckBox* forceBox() const { return m_force; }

private:
    void update();

    qint64 m_experiment;
    QComboBox* m_format;
    QComboBox* m_variant;
    QComboBox* m_dtype;
    QLineEdit* m_folder;
    QCheckBox* m_force;
    QLabel* m_help;
    QLabel* m_problem;
};

} // namespace rs::ui
