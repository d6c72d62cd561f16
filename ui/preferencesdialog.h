#pragma once

#include <QDialog>

class QComboBox;
class QLabel;

namespace rs::ui {

// Preferences: the interface language (applied at the next start, as every window's texts are
// built once) and where experiments are stored (read-only information).
class PreferencesDialog : public QDialog {
    Q_OBJECT

public:
    explicit PreferencesDialog(const QString& databasePath, QWidget* parent = nullptr);

    QComboBox* languageBox() const { return m_language; }
    // Stores the choices (called on OK).
    void apply();

private:
    QComboBox* m_language;
    QLabel* m_note;
};

} // namespace rs::ui
