#include "windowhost.h"

#include "jobrunner.h"
#include "language.h"
#include "mainwindow.h"

#include <QApplication>
#include <QStatusBar>

namespace rs::ui {

WindowHost::WindowHost()
    : m_window(std::make_unique<MainWindow>()) {
    watch(m_window.get());
}

WindowHost::~WindowHost() = default;

void WindowHost::watch(MainWindow* window) {
    // Queued: the request comes from the Preferences dialog, a child of the window replaced.
    connect(window, &MainWindow::languageChosen, this, &WindowHost::switchLanguage,
            Qt::QueuedConnection);
}

bool WindowHost::switchLanguage(const QString& language) {
    if (m_window->jobRunner()->isRunning()) {
        m_window->statusBar()->showMessage(
            tr("The new language applies at the next start: a job is running."), 10000);
        return false;
    }
    const MainWindow::Handover state = m_window->handover();
    const QString previous = languageInEffect();
    installTranslation(*qApp, language);
    std::unique_ptr<MainWindow> replacement;
    try {
        replacement = std::make_unique<MainWindow>();
        replacement->takeOver(state);
    } catch (const std::exception& e) {
        // The window on screen stays, in its own language.
        installTranslation(*qApp, previous);
        m_window->statusBar()->showMessage(
            tr("The language could not be switched: %1").arg(QString::fromUtf8(e.what())), 10000);
        return false;
    }
    watch(replacement.get());
    const bool shown = m_window->isVisible();
    if (shown)
        replacement->show();
    MainWindow* old = m_window.release();
    m_window = std::move(replacement);
    old->hide();
    old->deleteLater();
    emit windowReplaced(m_window.get());
    return true;
}

} // namespace rs::ui
