#include "language.h"

#include <QCoreApplication>
#include <QLibraryInfo>
#include <QLocale>
#include <QSettings>
#include <QTranslator>

namespace rs::ui {

namespace {

const QString kLanguageKey = QStringLiteral("language");

// The compiled translations are resources of rankscope_ui (qt_add_translations).
const QString kResourceDir = QStringLiteral(":/i18n");
// The name of the translators installed here, so that a switch removes the previous ones.
const QString kTranslatorName = QStringLiteral("rankscope-translator");

QString g_inEffect = QStringLiteral("en");

void removeTranslations(QCoreApplication& app) {
    for (QTranslator* translator :
         app.findChildren<QTranslator*>(kTranslatorName, Qt::FindDirectChildrenOnly)) {
        QCoreApplication::removeTranslator(translator);
        delete translator;
    }
}

// Installs translation `file` from `dir`; false when there is none.
bool install(QCoreApplication& app, const QString& file, const QString& dir) {
    auto* translator = new QTranslator(&app);
    translator->setObjectName(kTranslatorName);
    if (!translator->load(file, dir)) {
        delete translator;
        return false;
    }
    QCoreApplication::installTranslator(translator);
    return true;
}

} // namespace

QString languageSetting() {
    return QSettings().value(kLanguageKey, QStringLiteral("system")).toString();
}

void setLanguageSetting(const QString& language) {
    QSettings().setValue(kLanguageKey, language);
}

QStringList availableLanguages() {
    return {QStringLiteral("system"), QStringLiteral("en"), QStringLiteral("ja")};
}

QString resolvedLanguage(const QString& language) {
    if (language == QLatin1String("system") || language.isEmpty())
        return QLocale::system().language() == QLocale::Japanese ? QStringLiteral("ja")
                                                                 : QStringLiteral("en");
    return language;
}

QString installTranslation(QCoreApplication& app, const QString& language) {
    removeTranslations(app);
    const QString code = resolvedLanguage(language);
    g_inEffect = QStringLiteral("en");
    if (code == QLatin1String("en"))
        return code; // the source strings are English
    if (!install(app, QStringLiteral("rankscope_") + code, kResourceDir))
        return QStringLiteral("en");
    g_inEffect = code;
    // Qt's own strings (standard buttons, dialogs) when the system ships them.
    install(app, QStringLiteral("qtbase_") + code,
            QLibraryInfo::path(QLibraryInfo::TranslationsPath));
    return code;
}

QString languageInEffect() {
    return g_inEffect;
}

} // namespace rs::ui
