#pragma once

#include <QCoreApplication>
#include <QSize>
#include <QString>
#include <optional>

class QCustomPlot;
class QMenu;
class QToolButton;
class QWidget;

namespace rs::ui {

// Export of a plot as a figure (PNG, SVG, PDF), of its data (CSV) and to the clipboard, plus the
// menu that offers these on any QCustomPlot. Files are written through QSaveFile, so a failed
// export never leaves half a file behind; errors name the file.
class PlotExport {
    Q_DECLARE_TR_FUNCTIONS(PlotExport)

public:
    enum class Format { Png, Svg, Pdf, Csv };
    static constexpr const char* kRowLabels = "rowLabels";

    // The format a file name asks for by its suffix (case-insensitive).
    static std::optional<Format> formatForPath(const QString& path);
    static QString suffix(Format format);

    // Writes the plot to `path` in `format` at the plot's current size (or width x height when
    // both are positive). Returns an empty string on success, else a message naming the file.
    static QString save(QCustomPlot* plot, const QString& path, Format format, int width = 0,
                        int height = 0);
    // The same, with the format taken from the suffix of `path`.
    static QString save(QCustomPlot* plot, const QString& path);

    // The plotted data as CSV: graphs become columns over the union of their keys (first column
    // the key axis, header "series [value axis label]"); a colour map becomes a matrix with one
    // row per value cell, named by the map's QStringList property kRowLabels when it has one.
    // Hidden and unnamed graphs are left out.
    static QString toCsv(QCustomPlot* plot);

    static void copyToClipboard(QCustomPlot* plot);

    // A menu with "Save as PNG/SVG/PDF…", "Save data as CSV…" and "Copy image"; the file dialogs
    // propose `baseName` and errors show in a message box over the plot.
    static QMenu* createMenu(QCustomPlot* plot, const QString& baseName, QWidget* parent);
    // Right-click on the plot opens that menu.
    static void attachContextMenu(QCustomPlot* plot, const QString& baseName);
    // A tool button ("Export") that pops up that menu, for a view's tool bar.
    static QToolButton* createButton(QCustomPlot* plot, const QString& baseName, QWidget* parent);
    // Asks for a file name and exports; shows an error dialog on failure.
    static void exportInteractively(QCustomPlot* plot, const QString& baseName, Format format);

    // Renders any widget (laid out at `size` when valid, else at its current size) to a PNG file,
    // for screenshots of whole views. Returns an empty string or a message naming the file.
    static QString renderWidget(QWidget* widget, const QString& path, const QSize& size = {});
};

} // namespace rs::ui
