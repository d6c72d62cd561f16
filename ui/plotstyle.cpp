#include "plotstyle.h"

#include "store/records.h"

#include <QCoreApplication>
#include <QLabel>
#include <QStackedWidget>
#include <array>
#include <cmath>
#include <qcustomplot.h>

namespace rs::ui::plotstyle {

QColor seriesColor(int index) {
    // Tableau 10: designed for categorical series, readable on white and in greyscale print.
    static constexpr std::array<QRgb, 10> kColors{0x4e79a7, 0xf28e2b, 0x59a14f, 0xe15759, 0x76b7b2,
                                                  0xedc948, 0xb07aa1, 0xff9da7, 0x9c755f, 0xbab0ac};
    const auto n = static_cast<int>(kColors.size());
    return QColor(kColors[static_cast<size_t>(((index % n) + n) % n)]);
}

void apply(QCustomPlot* plot) {
    plot->setAntialiasedElements(QCP::aeAll);
    plot->setNoAntialiasingOnDrag(true);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    const QColor grid(0xdd, 0xdd, 0xdd);
    for (QCPAxis* axis : plot->axisRect()->axes()) {
        axis->grid()->setPen(QPen(grid, 0, Qt::DotLine));
        axis->grid()->setSubGridPen(QPen(grid.lighter(110), 0, Qt::DotLine));
        QFont label = axis->labelFont();
        label.setPointSizeF(label.pointSizeF() * 1.05);
        axis->setLabelFont(label);
    }
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->legend->setBorderPen(QPen(QColor(0xbb, 0xbb, 0xbb)));
    plot->legend->setRowSpacing(-2);
}

QCPTextElement* addTitle(QCustomPlot* plot) {
    plot->plotLayout()->insertRow(0);
    auto* title =
        new QCPTextElement(plot, QString(), QFont(plot->font().family(), 11, QFont::Bold));
    plot->plotLayout()->addElement(0, 0, title);
    return title;
}

void makeLogAxis(QCPAxis* axis) {
    QSharedPointer<QCPAxisTickerLog> ticker(new QCPAxisTickerLog);
    ticker->setSubTickCount(8);
    axis->setScaleType(QCPAxis::stLogarithmic);
    axis->setTicker(ticker);
    axis->setNumberFormat(QStringLiteral("eb"));
    axis->setNumberPrecision(0);
}

QFont smallFont(const QCustomPlot* plot) {
    QFont font = plot->xAxis->tickLabelFont();
    font.setPointSizeF(font.pointSizeF() * 0.9);
    return font;
}

QString layerLabel(const rs::LayerRecord& layer) {
    if (layer.kind.empty())
        return QString::fromStdString(layer.name);
    return QCoreApplication::translate("PlotStyle", "L%1 %2")
        .arg(layer.block)
        .arg(QString::fromStdString(layer.kind));
}

QStackedWidget* emptyStateStack(QWidget* content, QWidget* parent) {
    auto* stack = new QStackedWidget(parent);
    auto* empty = new QLabel;
    empty->setObjectName(QStringLiteral("emptyState"));
    empty->setAlignment(Qt::AlignCenter);
    empty->setWordWrap(true);
    empty->setMargin(24);
    empty->setStyleSheet(QStringLiteral("color: #666666;"));
    stack->addWidget(empty);
    stack->addWidget(content);
    return stack;
}

void showEmpty(QStackedWidget* stack, const QString& title, const QString& message,
               const QString& action) {
    if (QLabel* label = emptyLabel(stack)) {
        QString html = QStringLiteral("<p style=\"font-size: 14pt\"><b>%1</b></p><p>%2</p>")
                           .arg(title.toHtmlEscaped(), message.toHtmlEscaped());
        if (!action.isEmpty())
            html += QStringLiteral("<p><a href=\"action\">%1</a></p>").arg(action.toHtmlEscaped());
        label->setText(html);
    }
    stack->setCurrentIndex(0);
}

QLabel* emptyLabel(QStackedWidget* stack) {
    return qobject_cast<QLabel*>(stack->widget(0));
}

void showContent(QStackedWidget* stack) {
    stack->setCurrentIndex(1);
}

QString formatValue(double value) {
    if (!std::isfinite(value))
        return QCoreApplication::translate("PlotStyle", "n/a");
    const double magnitude = std::abs(value);
    if (magnitude != 0.0 && (magnitude < 1e-3 || magnitude >= 1e5))
        return QString::number(value, 'e', 3);
    return QString::number(value, 'g', 4);
}

} // namespace rs::ui::plotstyle
