#include "preferencesdialog.h"

#include "language.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>

namespace rs::ui {

PreferencesDialog::PreferencesDialog(const QString& databasePath, QWidget* parent)
    : QDialog(parent)
    , m_language(new QComboBox)
    , m_note(new QLabel) {
    setObjectName(QStringLiteral("preferencesDialog"));
    setWindowTitle(tr("Preferences"));
    m_language->setObjectName(QStringLiteral("languageBox"));
    for (const QString& code : availableLanguages()) {
        QString name;
        if (code == QLatin1String("system"))
            name = tr("System default");
        else if (code == QLatin1String("en"))
            name = QStringLiteral("English");
        else if (code == QLatin1String("ja"))
            name = QStringLiteral("日本語");
        m_language->addItem(name, code);
    }
    m_language->setCurrentIndex(std::max(0, m_language->findData(languageSetting())));
    m_note->setWordWrap(true);
    m_note->setText(tr("The workbench switches to a new language on OK, keeping the open model "
                       "and experiment; while a job runs, at the next start."));
    auto* database = new QLabel(databasePath);
    database->setTextInteractionFlags(Qt::TextSelectableByMouse);
    database->setToolTip(tr("Set RANKSCOPE_DB to use another database"));

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        apply();
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* form = new QFormLayout(this);
    form->addRow(tr("Language:"), m_language);
    form->addRow(QString(), m_note);
    form->addRow(tr("Experiment store:"), database);
    form->addRow(buttons);
}

void PreferencesDialog::apply() {
    const QString language = m_language->currentData().toString();
    const bool changed = language != languageSetting();
    setLanguageSetting(language);
    // Against the language on screen too: a switch refused during a job, or a session started
    // with --language, shows another one than the stored choice.
    if (changed || resolvedLanguage(language) != languageInEffect())
        emit languageChosen(language);
}

} // namespace rs::ui
