#pragma once

#include <QStringList>
#include <qcustomplot.h>
#include <vector>

namespace rs::ui {

// Uniform and planned ranks per layer as grouped bars, the layers named on the axis (every
// layer when the bars are wide enough to read, else one label per decoder block) and in a
// tooltip on hover.
class RankBarsPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit RankBarsPlot(QWidget* parent = nullptr);

    // names: full layer names; labels: their short axis labels ("L0 q_proj"); blocks: the
    // decoder block of each, for the coarse labels.
    void setLayers(QStringList names, QStringList labels, std::vector<int> blocks);
    void setRanks(const std::vector<qint64>& uniform, const std::vector<qint64>& plan);
    // The text the tooltip shows for the bar under x (a plot coordinate); empty off the bars.
    QString describe(double x) const;
    // The axis labels now shown, by bar position.
    QMap<double, QString> tickLabels() const { return m_ticker->ticks(); }

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void updateTicks();
    void hover(QMouseEvent* event);

    QCPBars* m_uniformBars;
    QCPBars* m_planBars;
    QSharedPointer<QCPAxisTickerText> m_ticker;
    QStringList m_names;
    QStringList m_labels;
    std::vector<int> m_blocks;
    std::vector<qint64> m_uniform;
    std::vector<qint64> m_plan;
};

} // namespace rs::ui
