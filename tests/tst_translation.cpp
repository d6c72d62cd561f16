// The Japanese translation: compiled into the GUI, installed on request, complete (every
// user-visible string of the sources has a finished translation) and used by the windows.
#include "jobrunner.h"
#include "language.h"
#include "mainwindow.h"
#include "methods/registry.h"
#include "paramlabels.h"
#include "preferencesdialog.h"
#include "runpanel.h"
#include "testdata.h"
#include "windowhost.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDomDocument>
#include <QFile>
#include <QMenuBar>
#include <QPointer>
#include <QProcess>
#include <QPushButton>
#include <QSemaphore>
#include <QSet>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

namespace {

// Source texts of a .ts file with whether each has a finished translation.
QMap<QString, bool> messagesOf(const QString& path) {
    QFile file(path);
    QMap<QString, bool> out;
    if (!file.open(QIODevice::ReadOnly))
        return out;
    QDomDocument doc;
    if (!doc.setContent(&file))
        return out;
    const QDomNodeList messages = doc.elementsByTagName(QStringLiteral("message"));
    for (int i = 0; i < messages.size(); ++i) {
        const QDomElement m = messages.at(i).toElement();
        const QString context = m.parentNode().firstChildElement(QStringLiteral("name")).text();
        const QDomElement translation = m.firstChildElement(QStringLiteral("translation"));
        const bool finished = translation.attribute(QStringLiteral("type")).isEmpty() &&
                              !translation.text().trimmed().isEmpty();
        out.insert(context + QStringLiteral("|") +
                       m.firstChildElement(QStringLiteral("source")).text(),
                   finished);
    }
    return out;
}

} // namespace

class TestTranslation : public QObject {
    Q_OBJECT

private slots:
    void initTestCase();
    void everySourceStringIsTranslated();
    void japaneseIsInstalledAndUsed();
    void englishNeedsNoTranslation();
    void languageSettingPersists();
    void preferencesReportAChangedLanguage();
    void switchesLanguageKeepingTheModel();
    void switchWaitsForTheRunningJob();
};

void TestTranslation::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("RankScopeTest"));
    QCoreApplication::setApplicationName(QStringLiteral("tst_translation"));
    QSettings().clear();
}

void TestTranslation::everySourceStringIsTranslated() {
    // Extract the strings of today's sources with lupdate and compare with the committed file.
    QTemporaryDir dir;
    const QString extracted = dir.filePath(QStringLiteral("current.ts"));
    const QString root = QStringLiteral(RANKSCOPE_SOURCE_DIR);
    QProcess lupdate;
    lupdate.setWorkingDirectory(root);
    lupdate.start(QStringLiteral(RANKSCOPE_LUPDATE),
                  {QStringLiteral("-silent"), QStringLiteral("-locations"), QStringLiteral("none"),
                   QStringLiteral("ui"), QStringLiteral("app/gui"), QStringLiteral("-ts"),
                   extracted});
    QVERIFY(lupdate.waitForFinished(120000));
    QCOMPARE(lupdate.exitCode(), 0);
    const QMap<QString, bool> current = messagesOf(extracted);
    const QMap<QString, bool> committed =
        messagesOf(root + QStringLiteral("/translations/rankscope_ja.ts"));
    QVERIFY(current.size() > 300);
    QStringList untranslated;
    for (auto it = current.begin(); it != current.end(); ++it)
        if (!committed.value(it.key(), false))
            untranslated << it.key();
    QVERIFY2(untranslated.isEmpty(), qPrintable(QStringLiteral("not translated: ") +
                                                untranslated.join(QStringLiteral("; "))));
}

void TestTranslation::japaneseIsInstalledAndUsed() {
    QCOMPARE(rs::ui::installTranslation(*qApp, QStringLiteral("ja")), QStringLiteral("ja"));
    QCOMPARE(QCoreApplication::translate("rs::ui::MainWindow", "Error Curves"),
             QStringLiteral("誤差曲線"));
    QCOMPARE(
        QCoreApplication::translate("rs::ui::ExperimentsView", "%n experiment(s) in %1", nullptr, 3)
            .arg(QStringLiteral("x.db")),
        QStringLiteral("x.db に 3 件の実験"));
    // A window built afterwards shows Japanese menus, tabs and buttons.
    rs::ui::MainWindow window;
    QStringList menus;
    for (QAction* action : window.menuBar()->actions())
        menus << action->text();
    QVERIFY2(menus.contains(QStringLiteral("ファイル(&F)")), qPrintable(menus.join(u',')));
    QCOMPARE(window.views()->tabText(1), QStringLiteral("誤差曲線"));
    QCOMPARE(window.runPanel()->runButton()->text(), QStringLiteral("実行"));

    // The method parameters' labels come from the registry (no Qt there): each is listed for
    // translation and shows in Japanese.
    for (const rs::MethodSpec& method : rs::methodRegistry())
        for (const rs::ParamSpec& param : method.params) {
            QVERIFY2(rs::ui::isTranslatableParamLabel(param.label), param.label.c_str());
            QVERIFY2(rs::ui::paramLabel(param.label) != QString::fromStdString(param.label),
                     param.label.c_str());
        }
    QCOMPARE(rs::ui::paramLabel("Group size"), QStringLiteral("グループサイズ"));
    // Qt's own strings (standard buttons) are Japanese too (qt6-translations-l10n).
    QCOMPARE(QCoreApplication::translate("QPlatformTheme", "Cancel"), QStringLiteral("キャンセル"));
}

void TestTranslation::englishNeedsNoTranslation() {
    QCOMPARE(rs::ui::installTranslation(*qApp, QStringLiteral("en")), QStringLiteral("en"));
    // Installing English removed the Japanese translation installed before.
    QCOMPARE(QCoreApplication::translate("rs::ui::MainWindow", "Error Curves"),
             QStringLiteral("Error Curves"));
    // Unknown languages fall back to the English source strings.
    QCOMPARE(rs::ui::installTranslation(*qApp, QStringLiteral("xx")), QStringLiteral("en"));
}

void TestTranslation::languageSettingPersists() {
    QCOMPARE(rs::ui::languageSetting(), QStringLiteral("system"));
    rs::ui::setLanguageSetting(QStringLiteral("ja"));
    QCOMPARE(rs::ui::languageSetting(), QStringLiteral("ja"));
    QVERIFY(rs::ui::availableLanguages().contains(QStringLiteral("ja")));
}

void TestTranslation::preferencesReportAChangedLanguage() {
    rs::ui::setLanguageSetting(QStringLiteral("en"));
    rs::ui::PreferencesDialog dialog(QStringLiteral("x.db"));
    QSignalSpy chosen(&dialog, &rs::ui::PreferencesDialog::languageChosen);
    dialog.apply(); // unchanged: nothing to switch
    QCOMPARE(chosen.count(), 0);
    dialog.languageBox()->setCurrentIndex(dialog.languageBox()->findData(QStringLiteral("ja")));
    dialog.apply();
    QCOMPARE(chosen.count(), 1);
    QCOMPARE(chosen.first().first().toString(), QStringLiteral("ja"));
    QCOMPARE(rs::ui::languageSetting(), QStringLiteral("ja"));
    // Stored but not on screen (a switch refused during a job): choosing it again switches.
    rs::ui::installTranslation(*qApp, QStringLiteral("en"));
    QCOMPARE(rs::ui::languageInEffect(), QStringLiteral("en"));
    dialog.apply();
    QCOMPARE(chosen.count(), 2);
    rs::ui::installTranslation(*qApp, QStringLiteral("ja"));
    dialog.apply(); // stored and on screen: nothing to do
    QCOMPARE(chosen.count(), 2);
    rs::ui::installTranslation(*qApp, QStringLiteral("en"));
}

void TestTranslation::switchesLanguageKeepingTheModel() {
    rs::ui::installTranslation(*qApp, QStringLiteral("en"));
    rs::ui::WindowHost host;
    QPointer<rs::ui::MainWindow> english = host.window();
    english->show();
    QSignalSpy opened(english, &rs::ui::MainWindow::modelOpened);
    QVERIFY(english->openModel(
        QString::fromStdString(rs::test::dataPath("models/stories260K").string())));
    QVERIFY(opened.wait(60000));
    english->views()->setCurrentIndex(2);
    QCOMPARE(english->runPanel()->runButton()->text(), QStringLiteral("Run"));
    const std::shared_ptr<rs::ModelSession> session = english->session();
    const QString modelPath = english->modelPath();

    // Preferences' choice reaches the host through the window, queued.
    QSignalSpy replaced(&host, &rs::ui::WindowHost::windowReplaced);
    emit english->languageChosen(QStringLiteral("ja"));
    QVERIFY(replaced.wait(10000));
    rs::ui::MainWindow* japanese = host.window();
    QVERIFY(japanese != english);
    QVERIFY(japanese->isVisible());
    QCOMPARE(japanese->runPanel()->runButton()->text(), QStringLiteral("実行"));
    QCOMPARE(japanese->views()->tabText(1), QStringLiteral("誤差曲線"));
    // The same model session (not loaded again), the same view.
    QCOMPARE(japanese->session(), session);
    QCOMPARE(japanese->views()->currentIndex(), 2);
    QCOMPARE(japanese->modelPath(), modelPath);
    QVERIFY(QTest::qWaitFor([&] { return english.isNull(); })); // the old window is gone

    QVERIFY(host.switchLanguage(QStringLiteral("en")));
    QCOMPARE(host.window()->runPanel()->runButton()->text(), QStringLiteral("Run"));
    QCOMPARE(host.window()->session(), session);
}

void TestTranslation::switchWaitsForTheRunningJob() {
    rs::ui::installTranslation(*qApp, QStringLiteral("en"));
    rs::ui::WindowHost host;
    rs::ui::MainWindow* window = host.window();
    QSemaphore release;
    QSignalSpy finished(window->jobRunner(), &rs::ui::JobRunner::finished);
    QVERIFY(window->jobRunner()->run(
        QStringLiteral("wait"),
        [&release](const rs::JobContext&) {
            release.acquire();
            return 0;
        },
        [](int) {}));
    QVERIFY(!host.switchLanguage(QStringLiteral("ja")));
    QCOMPARE(host.window(), window);
    QVERIFY(window->statusBar()->currentMessage().contains(QStringLiteral("next start")));
    release.release();
    QVERIFY(finished.wait(10000));
    QVERIFY(host.switchLanguage(QStringLiteral("ja")));
    QVERIFY(host.window() != window);
    rs::ui::installTranslation(*qApp, QStringLiteral("en"));
}

QTEST_MAIN(TestTranslation)
#include "tst_translation.moc"
