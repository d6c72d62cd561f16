#pragma once

#include <QDialog>

class QComboBox;
class QLabel;

namespace rs::ui {

// Preferences: the interface language (the workbench switches to it on OK, see WindowHost) and
// where experiments are stored (read-only information).
class PreferencesDialog : public QDialog {
    Q_OBJECT

public:
    explicit PreferencesDialog(const QString& databasePath, QWidget* parent = nullptr);

    QComboBox* languageBox() const { return m_language; }
    // Stores the choices (called on OK); emits languageChosen when the language changed.
    void apply();

signals:
    void languageChosen(const QString& language);

private:
    QComboBox* m_language;
    QLabel* m_note;
};

} // namespace rs::ui
