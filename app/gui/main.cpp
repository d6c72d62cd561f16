// rankscope: the Qt workbench. Opens the model given on the command line, if any.
#include "jobrunner.h"
#include "language.h"
#include "mainwindow.h"
#include "pipeline/session.h"
#include "runpanel.h"
#include "viewrenderer.h"
#include "windowhost.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QIcon>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>

namespace {

constexpr int kExitNoDisplay = 2;
constexpr int kExitFailed = 1;

const char* const kUsage =
    "Usage: rankscope [options] [MODEL]\n"
    "\n"
    "RankScope workbench: inspect language models and compress their linear layers.\n"
    "\n"
    "Arguments:\n"
    "  MODEL           a model directory (config.json + safetensors) or a llama2.c .bin file,\n"
    "                  opened at start\n"
    "\n"
    "Options:\n"
    "  --calib FILE    calibration text to fill in the run panel\n"
    "  --eval FILE     evaluation text to fill in the run panel\n"
    "  -h, --help      show this help and exit\n"
    "  -v, --version   show the version and exit\n"
    "\n"
    "Standard Qt options such as -platform NAME are accepted too.\n";

bool envSet(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0';
}

// QApplication aborts when it cannot reach a display, so find out before creating it.
bool hasDisplay(int argc, char** argv) {
    if (envSet("DISPLAY") || envSet("WAYLAND_DISPLAY") || envSet("QT_QPA_PLATFORM"))
        return true;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "-platform") == 0 || std::strcmp(argv[i], "--platform") == 0)
            return true;
    }
    return false;
}

// Handles --help and --version without a display, so they work on a headless machine.
bool handleInfoOptions(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--")
            break;
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return true;
        }
        if (arg == "-v" || arg == "--version") {
            std::printf("rankscope %s\n", RANKSCOPE_VERSION);
            return true;
        }
    }
    return false;
}

void printNoDisplay(int argc, char** argv) {
    const char* model = "MODEL";
    for (int i = argc - 1; i >= 1; --i) {
        if (argv[i][0] != '-') {
            model = argv[i];
            break;
        }
    }
    std::fprintf(stderr,
                 "rankscope: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set, and "
                 "QT_QPA_PLATFORM is not set).\n"
                 "Run the workbench in a virtual display:\n"
                 "  xvfb-run -a build/app/gui/rankscope %s\n"
                 "or use the command-line tool:\n"
                 "  build/app/rankscope-cli info %s\n",
                 model, model);
}

// Hidden --screenshot FILE: open the model, save an image of the window once it shows the model,
// and quit. Used by review scripts; runs with fresh, throwaway settings and a fixed window size.
void armScreenshot(rs::ui::MainWindow& window, const QString& file, bool withModel) {
    auto grab = [&window, file] {
        const bool saved = window.grab().save(file);
        if (!saved)
            std::fprintf(stderr, "rankscope: cannot write %s\n", qPrintable(file));
        QCoreApplication::exit(saved ? 0 : kExitFailed);
    };
    if (!withModel) {
        QTimer::singleShot(500, &window, grab);
        return;
    }
    QObject::connect(&window, &rs::ui::MainWindow::modelOpened, &window,
                     [&window, grab] { QTimer::singleShot(300, &window, grab); });
    QObject::connect(window.jobRunner(), &rs::ui::JobRunner::failed, &window,
                     [](const QString& message) {
                         std::fprintf(stderr, "rankscope: %s\n", qPrintable(message));
                         QCoreApplication::exit(kExitFailed);
                     });
}

} // namespace

int main(int argc, char** argv) {
    if (handleInfoOptions(argc, argv))
        return 0;
    if (!hasDisplay(argc, argv)) {
        printNoDisplay(argc, argv);
        return kExitNoDisplay;
    }

    rs::initializeRuntime();
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("RankScope"));
    QCoreApplication::setApplicationName(QStringLiteral("RankScope"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RANKSCOPE_VERSION));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/rankscope.svg")));

    QCommandLineParser parser;
    parser.addPositionalArgument(QStringLiteral("model"),
                                 QApplication::translate("main", "Model directory or .bin file"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"), QString(), QStringLiteral("FILE"));
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOption(screenshot);
    QCommandLineOption renderViews(QStringLiteral("render-views"), QString(),
                                   QStringLiteral("DIR"));
    renderViews.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOption(renderViews);
    QCommandLineOption calib(QStringLiteral("calib"), QString(), QStringLiteral("FILE"));
    QCommandLineOption eval(QStringLiteral("eval"), QString(), QStringLiteral("FILE"));
    parser.addOption(calib);
    parser.addOption(eval);
    QCommandLineOption language(
        QStringLiteral("language"),
        QApplication::translate("main", "Language of this session: en, ja or system (default: "
                                        "the one chosen in Preferences)"),
        QStringLiteral("CODE"));
    parser.addOption(language);
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "rankscope: expected at most one model path\n%s", kUsage);
        return kExitFailed;
    }

    QTemporaryDir throwawaySettings;
    const bool screenshotMode = parser.isSet(screenshot);
    const bool renderMode = parser.isSet(renderViews);
    if (screenshotMode || renderMode)
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, throwawaySettings.path());
    if (parser.isSet(language) && !rs::ui::availableLanguages().contains(parser.value(language))) {
        std::fprintf(stderr, "rankscope: --language takes %s\n",
                     qPrintable(rs::ui::availableLanguages().join(QStringLiteral(", "))));
        return kExitFailed;
    }
    rs::ui::installTranslation(app, parser.isSet(language) ? parser.value(language)
                                                           : rs::ui::languageSetting());

    // The host replaces the window when Preferences changes the language; the first one is the
    // one set up here.
    rs::ui::WindowHost host;
    rs::ui::MainWindow& window = *host.window();
    if (parser.isSet(calib))
        window.runPanel()->setCalibText(QFileInfo(parser.value(calib)).absoluteFilePath());
    if (parser.isSet(eval))
        window.runPanel()->setEvalText(QFileInfo(parser.value(eval)).absoluteFilePath());
    if (screenshotMode) {
        window.resize(1280, 800);
        armScreenshot(window, parser.value(screenshot), !positional.isEmpty());
    }
    std::unique_ptr<ViewRenderer> renderer;
    if (renderMode) {
        if (positional.isEmpty() || !parser.isSet(calib) || !parser.isSet(eval)) {
            std::fprintf(stderr, "rankscope: --render-views needs MODEL, --calib and --eval\n");
            return kExitFailed;
        }
        const QString dir = parser.value(renderViews);
        QDir().mkpath(dir);
        const QString database = QDir(dir).absoluteFilePath(QStringLiteral("render.db"));
        QFile::remove(database);
        window.setDatabasePath(std::filesystem::path(QFile::encodeName(database).toStdString()));
        window.resize(1440, 900);
        renderer = std::make_unique<ViewRenderer>(window, dir,
                                                  QFileInfo(parser.value(calib)).absoluteFilePath(),
                                                  QFileInfo(parser.value(eval)).absoluteFilePath());
        renderer->start();
    }
    window.show();
    if (!renderMode)
        window.reopenLastExperiment(); // where the user left off
    if (!positional.isEmpty()) {
        const QString path = rs::ui::MainWindow::modelPathFor(positional.first());
        window.openModel(path.isEmpty() ? positional.first() : path);
    }
    return app.exec();
}
