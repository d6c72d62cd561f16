#pragma once

#include "spectra.h"
#include "store/records.h"

#include <QList>
#include <QWidget>
#include <vector>

class QComboBox;
class QCPColorMap;
class QCPColorScale;
class QCPTextElement;
class QCustomPlot;
class QMouseEvent;

namespace rs::ui {

// One normalised spectrum (value / largest value) of every analysed layer as a colour map, one
// row per layer, first layer on top, the selected layers outlined: outlier layers stand out at a
// glance. Part of SpectrumView, which owns the layers.
class SpectrumHeatmap : public QWidget {
    Q_OBJECT

public:
    explicit SpectrumHeatmap(QWidget* parent = nullptr);

    // The layers stay owned by the caller and must outlive this widget or the next call.
    void setLayers(const std::vector<rs::LayerRecord>* layers);
    void setSpectrum(Spectrum spectrum);
    Spectrum spectrum() const { return m_spectrum; }
    void setSelected(const QList<int>& rows);

    QCustomPlot* plot() const { return m_plot; }
    QCPColorMap* map() const { return m_map; }

signals:
    // A row was double-clicked.
    void layerActivated(int row);

private:
    void setupPlot();
    void rebuild();
    void updateTicks();
    void updateSelection();
    int rowAt(const QPointF& pos, int* index) const;
    void hover(QMouseEvent* event);
    void click(QMouseEvent* event);

    const std::vector<rs::LayerRecord>* m_layers = nullptr;
    std::vector<int> m_rows; // layer row of each map row (analysed layers only)
    QList<int> m_selected;
    Spectrum m_spectrum = Spectrum::ScaledError;

    QComboBox* m_combo;
    QCustomPlot* m_plot;
    QCPTextElement* m_title = nullptr;
    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
};

} // namespace rs::ui
