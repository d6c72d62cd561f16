#pragma once

#include <QObject>
#include <memory>

namespace rs::ui {

class MainWindow;

// Owns the workbench window. Every widget sets its texts where it is built, so a new interface
// language is applied by building a new window that takes over the old one's model (not loaded
// again), store, experiment and view; geometry, docks and the run panel carry over through the
// saved settings.
class WindowHost : public QObject {
    Q_OBJECT

public:
    WindowHost();
    ~WindowHost() override;

    MainWindow* window() const { return m_window.get(); }

    // Installs `language` ("system", "en", "ja") and replaces the window. Refused while a job
    // runs (false, the reason in the status bar): the stored choice then applies at the next
    // start.
    bool switchLanguage(const QString& language);

signals:
    void windowReplaced(rs::ui::MainWindow* window);

private:
    void watch(MainWindow* window);

    std::unique_ptr<MainWindow> m_window;
};

} // namespace rs::ui
