#include "plotexport.h"

#include <QApplication>
#include <QBuffer>
#include <QClipboard>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QPdfWriter>
#include <QSaveFile>
#include <QStandardPaths>
#include <QSvgGenerator>
#include <QTextStream>
#include <QToolButton>
#include <cmath>
#include <map>
#include <qcustomplot.h>

namespace rs::ui {

namespace {

QSize exportSize(const QCustomPlot* plot, int width, int height) {
    if (width > 0 && height > 0)
        return {width, height};
    const QSize size = plot->size();
    return size.isEmpty() ? QSize(800, 500) : size;
}

// The text of the plot's title element, for the metadata of vector formats.
QString plotTitle(QCustomPlot* plot) {
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
        if (auto* text = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i)))
            return text->text();
    return plot->windowTitle();
}

bool paintVector(QCustomPlot* plot, QPaintDevice* device, const QSize& size) {
    QCPPainter painter;
    if (!painter.begin(device))
        return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, size.width(), size.height());
    return painter.end();
}

// The figure in memory; writing happens in one place so that every format fails the same way.
std::optional<QByteArray> render(QCustomPlot* plot, PlotExport::Format format, const QSize& size) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    switch (format) {
    case PlotExport::Format::Png:
        if (!plot->toPixmap(size.width(), size.height()).save(&buffer, "PNG"))
            return std::nullopt;
        break;
    case PlotExport::Format::Svg: {
        QSvgGenerator svg;
        svg.setOutputDevice(&buffer);
        svg.setSize(size);
        svg.setViewBox(QRect(QPoint(0, 0), size));
        svg.setTitle(plotTitle(plot));
        svg.setDescription(QStringLiteral("RankScope"));
        if (!paintVector(plot, &svg, size))
            return std::nullopt;
        break;
    }
    case PlotExport::Format::Pdf: {
        // 72 dpi makes one plot pixel one PDF point, so the page is exactly the figure.
        QPdfWriter pdf(&buffer);
        pdf.setCreator(QStringLiteral("RankScope"));
        pdf.setTitle(plotTitle(plot));
        pdf.setResolution(72);
        pdf.setPageLayout(
            QPageLayout(QPageSize(QSizeF(size), QPageSize::Point, QString(), QPageSize::ExactMatch),
                        QPageLayout::Portrait, QMarginsF(0, 0, 0, 0), QPageLayout::Point));
        if (!paintVector(plot, &pdf, size))
            return std::nullopt;
        break;
    }
    case PlotExport::Format::Csv:
        bytes = PlotExport::toCsv(plot).toUtf8();
        break;
    }
    return bytes;
}

QString csvField(const QString& text) {
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"')) &&
        !text.contains(QLatin1Char('\n')))
        return text;
    QString quoted = text;
    quoted.replace(QStringLiteral("\""), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString csvNumber(double value) {
    // Empty for gaps (NaN marks values a log axis cannot show); full precision otherwise.
    return std::isfinite(value) ? QString::number(value, 'g', 17) : QString();
}

QString columnHeader(const QString& name, const QString& unit) {
    return unit.isEmpty() ? name : PlotExport::tr("%1 [%2]").arg(name, unit);
}

QString graphsCsv(QCustomPlot* plot) {
    std::vector<const QCPGraph*> graphs;
    for (int i = 0; i < plot->graphCount(); ++i) {
        const QCPGraph* graph = plot->graph(i);
        if (graph->visible() && !graph->name().isEmpty())
            graphs.push_back(graph);
    }
    if (graphs.empty())
        return {};
    // Union of keys, so series of different lengths (spectra of different layers) share rows.
    std::map<double, std::vector<double>> rows;
    for (size_t g = 0; g < graphs.size(); ++g)
        for (const QCPGraphData& point : *graphs[g]->data()) {
            auto& row = rows[point.key];
            row.resize(graphs.size(), std::nan(""));
            row[g] = point.value;
        }
    QString out;
    QTextStream stream(&out);
    stream << csvField(graphs.front()->keyAxis()->label());
    for (const QCPGraph* graph : graphs)
        stream << ',' << csvField(columnHeader(graph->name(), graph->valueAxis()->label()));
    stream << '\n';
    for (auto& [key, values] : rows) {
        values.resize(graphs.size(), std::nan(""));
        stream << csvNumber(key);
        for (double value : values)
            stream << ',' << csvNumber(value);
        stream << '\n';
    }
    return out;
}

QString colorMapCsv(QCPColorMap* map) {
    QCPColorMapData* data = map->data();
    const QStringList labels = map->property(PlotExport::kRowLabels).toStringList();
    QString out;
    QTextStream stream(&out);
    stream << csvField(map->valueAxis()->label());
    double key = 0;
    double value = 0;
    for (int k = 0; k < data->keySize(); ++k) {
        data->cellToCoord(k, 0, &key, &value);
        stream << ',' << csvNumber(key);
    }
    stream << '\n';
    for (int v = 0; v < data->valueSize(); ++v) {
        data->cellToCoord(0, v, &key, &value);
        stream << csvField(v < labels.size() ? labels[v] : csvNumber(value));
        for (int k = 0; k < data->keySize(); ++k)
            stream << ',' << csvNumber(data->cell(k, v));
        stream << '\n';
    }
    return out;
}

QString fileFilter(PlotExport::Format format) {
    switch (format) {
    case PlotExport::Format::Png:
        return PlotExport::tr("PNG image (*.png)");
    case PlotExport::Format::Svg:
        return PlotExport::tr("SVG vector image (*.svg)");
    case PlotExport::Format::Pdf:
        return PlotExport::tr("PDF document (*.pdf)");
    case PlotExport::Format::Csv:
        return PlotExport::tr("CSV table (*.csv)");
    }
    return {};
}

QString writeFile(const QString& path, const QByteArray& bytes) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return PlotExport::tr("Cannot write “%1”: %2").arg(path, file.errorString());
    if (file.write(bytes) != bytes.size() || !file.commit())
        return PlotExport::tr("Cannot write “%1”: %2").arg(path, file.errorString());
    return {};
}

} // namespace

std::optional<PlotExport::Format> PlotExport::formatForPath(const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    for (Format format : {Format::Png, Format::Svg, Format::Pdf, Format::Csv})
        if (suffix == PlotExport::suffix(format))
            return format;
    return std::nullopt;
}

QString PlotExport::suffix(Format format) {
    switch (format) {
    case Format::Png:
        return QStringLiteral("png");
    case Format::Svg:
        return QStringLiteral("svg");
    case Format::Pdf:
        return QStringLiteral("pdf");
    case Format::Csv:
        return QStringLiteral("csv");
    }
    return {};
}

QString PlotExport::save(QCustomPlot* plot, const QString& path, Format format, int width,
                         int height) {
    const std::optional<QByteArray> bytes = render(plot, format, exportSize(plot, width, height));
    if (!bytes)
        return tr("Cannot render the figure for “%1”.").arg(path);
    return writeFile(path, *bytes);
}

QString PlotExport::save(QCustomPlot* plot, const QString& path) {
    const std::optional<Format> format = formatForPath(path);
    if (!format)
        return tr("Cannot export to “%1”: use a .png, .svg, .pdf or .csv file name.").arg(path);
    return save(plot, path, *format);
}

QString PlotExport::toCsv(QCustomPlot* plot) {
    for (int i = 0; i < plot->plottableCount(); ++i)
        if (auto* map = qobject_cast<QCPColorMap*>(plot->plottable(i)))
            return colorMapCsv(map);
    return graphsCsv(plot);
}

void PlotExport::copyToClipboard(QCustomPlot* plot) {
    const QSize size = exportSize(plot, 0, 0);
    QApplication::clipboard()->setImage(plot->toPixmap(size.width(), size.height()).toImage());
}

QMenu* PlotExport::createMenu(QCustomPlot* plot, const QString& baseName, QWidget* parent) {
    auto* menu = new QMenu(parent);
    menu->addAction(tr("Save as &PNG…"), plot,
                    [plot, baseName] { exportInteractively(plot, baseName, Format::Png); });
    menu->addAction(tr("Save as &SVG…"), plot,
                    [plot, baseName] { exportInteractively(plot, baseName, Format::Svg); });
    menu->addAction(tr("Save as P&DF…"), plot,
                    [plot, baseName] { exportInteractively(plot, baseName, Format::Pdf); });
    menu->addSeparator();
    menu->addAction(tr("Save &data as CSV…"), plot,
                    [plot, baseName] { exportInteractively(plot, baseName, Format::Csv); });
    menu->addAction(QIcon::fromTheme(QStringLiteral("edit-copy")), tr("&Copy image"), plot,
                    [plot] { copyToClipboard(plot); });
    return menu;
}

void PlotExport::attachContextMenu(QCustomPlot* plot, const QString& baseName) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot,
                     [plot, baseName](const QPoint& pos) {
                         QMenu* menu = createMenu(plot, baseName, plot);
                         menu->setAttribute(Qt::WA_DeleteOnClose);
                         menu->popup(plot->mapToGlobal(pos));
                     });
}

QToolButton* PlotExport::createButton(QCustomPlot* plot, const QString& baseName, QWidget* parent) {
    auto* button = new QToolButton(parent);
    button->setText(tr("Export"));
    button->setIcon(QIcon::fromTheme(QStringLiteral("document-save-as")));
    button->setToolTip(tr("Save this plot as PNG, SVG or PDF, its data as CSV, or copy it"));
    button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    button->setPopupMode(QToolButton::InstantPopup);
    button->setMenu(createMenu(plot, baseName, button));
    return button;
}

void PlotExport::exportInteractively(QCustomPlot* plot, const QString& baseName, Format format) {
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
    const QString proposed = QDir(dir).filePath(baseName + QLatin1Char('.') + suffix(format));
    QString path =
        QFileDialog::getSaveFileName(plot, tr("Export Plot"), proposed, fileFilter(format));
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += QLatin1Char('.') + suffix(format);
    const QString error = save(plot, path, format);
    if (!error.isEmpty())
        QMessageBox::warning(plot, tr("Export Failed"), error);
}

QString PlotExport::renderWidget(QWidget* widget, const QString& path, const QSize& size) {
    if (size.isValid())
        widget->resize(size);
    // Layouts and queued replots only settle once the widget has been shown once; a hidden
    // widget is shown off screen for the grab and hidden again.
    const bool wasHidden = !widget->isVisible();
    const bool wasOffScreen = widget->testAttribute(Qt::WA_DontShowOnScreen);
    if (wasHidden) {
        widget->setAttribute(Qt::WA_DontShowOnScreen);
        widget->show();
    }
    QCoreApplication::processEvents();
    for (QCustomPlot* plot : widget->findChildren<QCustomPlot*>())
        plot->replot(QCustomPlot::rpImmediateRefresh);
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    const bool rendered = widget->grab().save(&buffer, "PNG");
    if (wasHidden) {
        widget->hide();
        widget->setAttribute(Qt::WA_DontShowOnScreen, wasOffScreen);
    }
    if (!rendered)
        return tr("Cannot render the view for “%1”.").arg(path);
    return writeFile(path, bytes);
}

} // namespace rs::ui
