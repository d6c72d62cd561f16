// rankscope: the Qt workbench. Opens the model given on the command line, if any.
#include "jobrunner.h"
#include "mainwindow.h"
#include "pipeline/session.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    parser.process(app);
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        std::fprintf(stderr, "rankscope: expected at most one model path\n%s", kUsage);
        return kExitFailed;
    }

    QTemporaryDir throwawaySettings;
    const bool screenshotMode = parser.isSet(screenshot);
    if (screenshotMode)
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, throwawaySettings.path());

    rs::ui::MainWindow window;
    if (screenshotMode) {
        window.resize(1280, 800);
        armScreenshot(window, parser.value(screenshot), !positional.isEmpty());
    }
    window.show();
    if (!positional.isEmpty()) {
        const QString path = rs::ui::MainWindow::modelPathFor(positional.first());
        window.openModel(path.isEmpty() ? positional.first() : path);
    }
    return app.exec();
}
