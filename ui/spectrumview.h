#pragma once

#include "spectra.h"
#include "store/records.h"

#include <QList>
#include <QWidget>
#include <vector>

class QCheckBox;
class QCPColorMap;
class QCPGraph;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;
class QMouseEvent;
class QStackedWidget;

namespace rs::ui {

class SpectrumHeatmap;

// Spectra of the analysed layers of one experiment: the selected layers' spectra on a log axis
// (overlaid when several are selected) with the EoRA tolerance and the effective rank of C
// marked, and a heatmap of one normalised spectrum of every layer, one row per layer, to spot
// outliers. It only shows stored numbers (rs::LayerRecord); nothing is computed but ratios.
class SpectrumView : public QWidget {
    Q_OBJECT

public:
    using Spectrum = rs::ui::Spectrum;
    static constexpr int kSpectrumCount = rs::ui::kSpectrumCount;

    explicit SpectrumView(QWidget* parent = nullptr);

    // The layers of an experiment in store order; selects the first analysed layer.
    void setLayers(std::vector<rs::LayerRecord> layers);
    void clear();
    const std::vector<rs::LayerRecord>& layers() const { return m_layers; }
    // Rows into layers(); out-of-range rows are ignored.
    void setSelectedLayers(const QList<int>& rows);
    QList<int> selectedLayers() const { return m_selected; }

    void setSpectrumVisible(Spectrum spectrum, bool visible);
    bool isSpectrumVisible(Spectrum spectrum) const;
    void setHeatmapSpectrum(Spectrum spectrum);
    Spectrum heatmapSpectrum() const;

    // EoRA's tolerance l_max * max(1, d_in) * eps_float32 from the stored eigenvalues of C, and
    // the modes above it (the effective rank of C).
    static double tolerance(const rs::LayerRecord& layer);
    static int64_t effectiveRank(const rs::LayerRecord& layer);

    QCustomPlot* spectrumPlot() const { return m_plot; }
    QCustomPlot* heatmapPlot() const;
    QCPColorMap* heatmap() const;
    // The graph of a selected layer's spectrum, or nullptr when it is not shown.
    QCPGraph* graph(int row, Spectrum spectrum) const;
    // The labels of the tolerance lines and of the effective-rank lines, as shown.
    QList<QCPItemText*> toleranceLabels() const;
    QList<QCPItemText*> rankLabels() const;

signals:
    // A heatmap row was double-clicked: a request to select that layer (the view shows it once
    // setSelectedLayers() is called, as every view does).
    void layerActivated(int row);
    // The link of the "no layer analysis stored" page: analyse the selected layers.
    void analysisRequested();

private:
    void updateEmptyState();
    struct Shown {
        int row;
        Spectrum spectrum;
        QCPGraph* graph;
    };

    void setupSpectrumPlot();
    void rebuildSpectra();
    void compactLegend();
    void addMarkers(int row, const QColor& color);
    // After each layout: the markers' labels of several layers moved apart so that none covers
    // another (tolerances along the eigenvalue axis, effective ranks along the index axis).
    void placeMarkerLabels();
    void spectrumHover(QMouseEvent* event);

    std::vector<rs::LayerRecord> m_layers;
    QList<int> m_selected;
    std::vector<Shown> m_shown;
    std::vector<std::pair<QCPItemText*, double>> m_toleranceLabels; // with their tolerance
    std::vector<std::pair<QCPItemText*, double>> m_rankLabels;      // with their rank

    QStackedWidget* m_stack;
    QCheckBox* m_show[kSpectrumCount];
    QCustomPlot* m_plot;
    QCPTextElement* m_title;
    SpectrumHeatmap* m_heatmap;
};

} // namespace rs::ui
