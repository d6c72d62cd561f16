#pragma once

#include <QString>
#include <QStringList>

class QCoreApplication;

namespace rs::ui {

// The interface language: "system" (the default: Japanese on a Japanese locale, else English),
// "en" or "ja". Stored in QSettings under "language"; read at start and when Preferences
// changes it.
QString languageSetting();
void setLanguageSetting(const QString& language);
// "en" or "ja" for a setting: "system" (or empty) resolved from the locale.
QString resolvedLanguage(const QString& language);
// The languages offered: codes, with "system" first.
QStringList availableLanguages();

// Installs the translation for `language` ("system" resolved from the locale) into the
// application, in place of the one installed before. Returns the language in effect ("en" when
// none was installed).
QString installTranslation(QCoreApplication& app, const QString& language);
// The language installTranslation() put in effect last ("en" before any call).
QString languageInEffect();

} // namespace rs::ui
