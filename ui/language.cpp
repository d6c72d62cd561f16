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

QString installTranslation(QCoreApplication& app, const QString& language) {
    QString code = language;
    if (code == QLatin1String("system") || code.isEmpty())
        code = QLocale::system().language() == QLocale::Japanese ? QStringLiteral("ja")
                                                                 : QStringLiteral("en");
    if (code == QLatin1String("en"))
        return code; // the source strings are English
    auto* own = new QTranslator(&app);
    if (!own->load(QStringLiteral("rankscope_") + code, kResourceDir)) {
        delete own;
        return QStringLiteral("en");
    }
    app.installTranslator(own);
    // Qt's own strings (standard buttons, dialogs) when the system ships them.
    auto* qt = new QTranslator(&app);
    if (qt->load(QStringLiteral("qtbase_") + code,
                 QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        app.installTranslator(qt);
    else
        delete qt;
    return code;
}

} // namespace rs::ui
