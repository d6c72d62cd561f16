#include "plotstyle.h"

#include "store/records.h"

#include <QCoreApplication>
#include <QLabel>
#include <QStackedWidget>
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
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

namespace {

// Powers of ten over ranges of a decade or more; under a decade, where at most one power of ten
// falls inside, evenly spaced ticks labelled as plain numbers, so that the axis is never bare.
class LogTicker : public QCPAxisTickerLog {
protected:
    static bool underADecade(const QCPRange& range) {
        return range.lower > 0 && range.upper / range.lower < 10.0;
    }
    QVector<double> createTickVector(double tickStep, const QCPRange& range) override {
        if (!underADecade(range))
            return QCPAxisTickerLog::createTickVector(tickStep, range);
        const double step = pickClean(range.size() / 4.0);
        QVector<double> ticks;
        for (double t = std::floor(range.lower / step) * step; t <= range.upper + step; t += step)
            if (t > 0)
                ticks << t;
        return ticks;
    }
    QVector<double> createSubTickVector(int subTickCount, const QVector<double>& ticks) override {
        if (ticks.size() > 1 && ticks[1] / ticks[0] < 9.99) // the linear ticks above
            return {};
        return QCPAxisTickerLog::createSubTickVector(subTickCount, ticks);
    }
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar,
                         int precision) override {
        if (tick > 0 && std::abs(std::log10(tick) - std::round(std::log10(tick))) > 1e-9)
            return locale.toString(tick, 'g', 4); // not a power of ten: a plain number
        return QCPAxisTickerLog::getTickLabel(tick, locale, formatChar, precision);
    }

private:
    // 1, 2 or 5 times a power of ten, the nearest at or above `raw`.
    static double pickClean(double raw) {
        const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
        for (const double m : {1.0, 2.0, 5.0, 10.0})
            if (m * magnitude >= raw)
                return m * magnitude;
        return 10.0 * magnitude;
    }
};

} // namespace

void makeLogAxis(QCPAxis* axis) {
    QSharedPointer<LogTicker> ticker(new LogTicker);
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

void setLayerTicks(QCPAxisTickerText& ticker, const QStringList& labels,
                   const std::vector<int>& blocks, double axisPixels) {
    ticker.clear();
    const auto count = labels.size();
    const auto blockOf = [&](qsizetype i) {
        return i >= 0 && size_t(i) < blocks.size() ? blocks[size_t(i)] : -1;
    };
    const bool everyLayer = count > 0 && axisPixels / double(count) >= kMinPixelsPerLayerLabel;
    for (qsizetype i = 0; i < count; ++i) {
        const int block = blockOf(i);
        if (everyLayer)
            ticker.addTick(double(i), labels[i]);
        else if (i == 0 || block != blockOf(i - 1))
            ticker.addTick(double(i),
                           block >= 0 ? QCoreApplication::translate("PlotStyle", "L%1").arg(block)
                                      : labels[i]);
    }
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

std::vector<double> spreadApart(const std::vector<double>& positions, double gap, double low,
                                double high) {
    const size_t n = positions.size();
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return positions[a] < positions[b]; });
    std::vector<double> sorted(n);
    for (size_t i = 0; i < n; ++i) // up from the lowest, then down from the highest
        sorted[i] = std::max(positions[order[i]], i == 0 ? low : sorted[i - 1] + gap);
    for (size_t i = n; i-- > 0;)
        sorted[i] = std::min(sorted[i], i + 1 == n ? high : sorted[i + 1] - gap);
    if (n > 0 && sorted.front() < low) // too many to fit: evenly over the range
        for (size_t i = 0; i < n; ++i)
            sorted[i] = n == 1 ? low : low + (high - low) * double(i) / double(n - 1);
    std::vector<double> out(n);
    for (size_t i = 0; i < n; ++i)
        out[order[i]] = sorted[i];
    return out;
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
