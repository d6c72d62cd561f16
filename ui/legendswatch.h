#pragma once

#include <QPen>
#include <QString>
#include <qcustomplot.h>

namespace rs::ui {

// A legend entry that is not a plottable: a short line in `pen` and a text. Lets a plot of many
// series name what colours and what line styles mean once each (layer by colour, quantity by
// style) instead of listing every combination.
class LegendSwatch : public QCPAbstractLegendItem {
    Q_OBJECT

public:
    LegendSwatch(QCPLegend* legend, const QPen& pen, const QString& text);

    QString text() const { return m_text; }

protected:
    void draw(QCPPainter* painter) override;
    QSize minimumOuterSizeHint() const override;

private:
    QPen m_pen;
    QString m_text;
};

} // namespace rs::ui
