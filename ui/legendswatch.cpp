#include "legendswatch.h"

#include <QFontMetrics>

namespace rs::ui {

LegendSwatch::LegendSwatch(QCPLegend* legend, const QPen& pen, const QString& text)
    : QCPAbstractLegendItem(legend)
    , m_pen(pen)
    , m_text(text) {}

void LegendSwatch::draw(QCPPainter* painter) {
    const QSize icon = mParentLegend->iconSize();
    const QRect box(mRect.topLeft(), icon);
    painter->setPen(m_pen);
    painter->drawLine(
        QLineF(box.left(), box.center().y() + 0.5, box.right() + 1, box.center().y() + 0.5));
    painter->setFont(mFont);
    painter->setPen(QPen(mTextColor));
    const QFontMetrics metrics(mFont);
    const QRect text(box.right() + mParentLegend->iconTextPadding(), mRect.top(),
                     metrics.horizontalAdvance(m_text) + 1,
                     std::max(icon.height(), metrics.height()));
    painter->drawText(text, Qt::AlignLeft | Qt::AlignVCenter, m_text);
}

QSize LegendSwatch::minimumOuterSizeHint() const {
    const QFontMetrics metrics(mFont);
    const QSize icon = mParentLegend->iconSize();
    return {icon.width() + mParentLegend->iconTextPadding() + metrics.horizontalAdvance(m_text) +
                mMargins.left() + mMargins.right(),
            std::max(icon.height(), metrics.height()) + mMargins.top() + mMargins.bottom()};
}

} // namespace rs::ui
