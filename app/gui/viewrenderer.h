#pragma once

#include <QList>
#include <QObject>
#include <QSize>
#include <QString>

namespace rs::ui {
class MainWindow;
}

// Drives the real workbench through a review tour and saves every view as a PNG: two recorded
// runs (RTN 3-bit and 2-bit, groups of 32, with none / SVD / EoRA at ranks 4, 8, 16) and a
// Lillama run (20 % fewer parameters), then the spectra, error curves, layer metrics, rank budget
// (after a budget change), trade-offs, experiments, the comparison of the two compression runs, the
// preferences and the Lillama losses. The window's views are saved at 1024 x 700, 1280 x 720 and
// 1920 x 1080. Used by scripts/render_views.sh.
class ViewRenderer : public QObject {
    Q_OBJECT

public:
    ViewRenderer(rs::ui::MainWindow& window, QString outputDir, QString calibText,
                 QString evalText);
    // Starts once the model has opened; quits the application with 0 or 1 when done.
    void start();

private:
    void runNext();
    void renderAll();
    bool save(QWidget* widget, const QString& name);
    void finish(bool ok, const QString& message = {});

    rs::ui::MainWindow& m_window;
    QString m_dir;
    QString m_calib;
    QString m_eval;
    int m_runs = 0;
    qint64 m_first = 0;
    qint64 m_second = 0;
    qint64 m_distilled = 0;
    static constexpr int kRuns = 3;
    // The smallest supported, a common laptop and a full-HD screen.
    inline static const QList<QSize> kWindowSizes{QSize(1024, 700), QSize(1280, 720),
                                                  QSize(1920, 1080)};
};
