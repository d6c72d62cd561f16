#pragma once

#include <QColor>
#include <QFont>
#include <QString>
#include <QStringList>
#include <vector>

class QCPAxis;
class QCPAxisTickerText;
class QCPTextElement;
class QCustomPlot;
class QLabel;
class QStackedWidget;
class QWidget;

namespace rs {
struct LayerRecord;
}

// Look and feel shared by the analysis plots, so that every view reads the same way.
namespace rs::ui::plotstyle {

// The i-th colour of a qualitative palette that stays distinguishable for about ten series.
QColor seriesColor(int index);

// Fonts, grid and margins of a plot in the house style; interactive zoom and drag on the axes.
void apply(QCustomPlot* plot);

// A bold title row above the axis rect, in the plot's own font family; set its text later.
QCPTextElement* addTitle(QCustomPlot* plot);

// The font of labels drawn inside a plot (points named on it): a little smaller than its ticks.
QFont smallFont(const QCustomPlot* plot);

// A logarithmic axis with powers of ten as tick labels; under a decade, where no more than one
// power of ten would show, evenly spaced plain numbers instead.
void makeLogAxis(QCPAxis* axis);

// "L3 down_proj" from block and kind; the full name when those are missing.
QString layerLabel(const rs::LayerRecord& layer);

// A category axis of layers at 0, 1, 2, ...: every layer's label when each gets at least
// kMinPixelsPerLayerLabel pixels, else "L<block>" at the first layer of each decoder block.
// `blocks` holds each layer's block (-1: unknown).
inline constexpr double kMinPixelsPerLayerLabel = 14.0;
void setLayerTicks(QCPAxisTickerText& ticker, const QStringList& labels,
                   const std::vector<int>& blocks, double axisPixels);

// A page stack whose first page is a centred message (shown when there is nothing to plot) and
// whose second page is `content`; showEmpty() and showContent() flip between them.
QStackedWidget* emptyStateStack(QWidget* content, QWidget* parent);
// `action`, when given, is shown as a link under the message; activating it emits the empty
// label's linkActivated(QStringLiteral("action")).
void showEmpty(QStackedWidget* stack, const QString& title, const QString& message,
               const QString& action = {});
// The label of the empty page (to connect its linkActivated).
QLabel* emptyLabel(QStackedWidget* stack);
void showContent(QStackedWidget* stack);

// Label positions along one axis (pixels), moved as little as possible so that neighbours are
// at least `gap` apart and all lie within [low, high], in the same order as given. When they
// cannot all fit, they are spread evenly over the range.
std::vector<double> spreadApart(const std::vector<double>& positions, double gap, double low,
                                double high);

// A number for axis readouts and tooltips: fixed for moderate magnitudes, scientific otherwise.
QString formatValue(double value);

} // namespace rs::ui::plotstyle
