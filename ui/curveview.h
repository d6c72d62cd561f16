#pragma once

#include "store/records.h"

#include <QList>
#include <QWidget>
#include <vector>

class QCheckBox;
class QComboBox;
class QCPAbstractItem;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemText;
class QCPItemTracer;
class QCPTextElement;
class QCustomPlot;
class QLabel;
class QMouseEvent;
class QStackedWidget;

namespace rs::ui {

// Error-vs-rank curves of one layer: E_svd(r) (plain SVD measured with C) and E_eora(r) (the
// optimum), the band between them shaded, the chosen rank marked, a readout under the mouse, and
// the model-level total predicted for the current per-layer ranks. Curves come from the store
// (absolute, E(0) = tr(dW C dW^T)); this view only divides and adds.
class CurveView : public QWidget {
    Q_OBJECT

public:
    enum class Normalization {
        ErrorLeft,      // E(r) / tr(dW C dW^T): fraction of the compression error left
        RelativeOutput, // E(r) / tr(W C W^T): relative output error
    };

    // Sum over layers of E_l(r_l) for both methods, with the sums of both normalisers.
    struct Total {
        double svd = 0.0;
        double eora = 0.0;
        double errorEnergy = 0.0;  // sum of tr(dW C dW^T)
        double outputEnergy = 0.0; // sum of tr(W C W^T)
        int layers = 0;            // layers with curves and a rank
        int64_t adapterParameters = 0;
        double normalized(double absolute, Normalization n) const;
    };

    explicit CurveView(QWidget* parent = nullptr);

    // The layers of an experiment in store order; selects the first layer with curves and
    // forgets the ranks.
    void setLayers(std::vector<rs::LayerRecord> layers);
    void clear();
    const std::vector<rs::LayerRecord>& layers() const { return m_layers; }
    // Rows into layers(): the first valid one is the current layer (band, markers, readout);
    // the others are overlaid, each in its own colour (EoRA solid, SVD dashed).
    void setSelectedLayers(const QList<int>& rows);
    int currentLayer() const { return m_current; }
    // The overlaid layers (rows), after the current one.
    const QList<int>& overlaidLayers() const { return m_overlaid; }
    // The uniform ranks the experiment ran (its variants): marked on the rank axis.
    void setRunRanks(const QList<qint64>& ranks);

    // The ranks of a stored variant (LayerRecord::ranks[variant.index]), labelled with it.
    void setVariant(const rs::VariantRecord& variant);
    // Per-layer ranks in layers() order (e.g. a plan being edited); -1 or missing: none.
    void setRanks(const std::vector<int64_t>& ranks, const QString& label = {});
    const std::vector<int64_t>& ranks() const { return m_ranks; }

    void setNormalization(Normalization normalization);
    Normalization normalization() const { return m_normalization; }
    static QString normalizationName(Normalization normalization);
    void setLogScale(bool log);

    // What the two curves are: a compensation's plain SVD and EoRA, or (a LoRD/Lillama
    // experiment, where dW = W) the weight SVD and the data-aware optimum of the factors.
    enum class Pair { Compensation, LowRank };
    void setPair(Pair pair);
    Pair pair() const { return m_pair; }

    static Total predictTotal(const std::vector<rs::LayerRecord>& layers,
                              const std::vector<int64_t>& ranks);
    Total total() const { return predictTotal(m_layers, m_ranks); }
    // What the readout shows at rank r of the current layer (empty outside the curve).
    QString readout(int rank) const;

    QCustomPlot* plot() const { return m_plot; }
    QCPGraph* svdGraph() const { return m_svd; }
    QCPGraph* eoraGraph() const { return m_eora; }
    // The vertical line at the current layer's chosen rank (hidden without one).
    QCPItemStraightLine* rankLine() const { return m_rankLine; }
    QLabel* totalLabel() const { return m_total; }
    QLabel* readoutLabel() const { return m_readout; }

signals:
    void normalizationChanged(rs::ui::CurveView::Normalization normalization);
    // A double-click on the plot picks that rank for the current layer (for a rank editor).
    void rankPicked(int layerRow, int64_t rank);
    // The link of the "no layer analysis stored" page: analyse the selected layers.
    void analysisRequested();

private:
    void updateEmptyState();
    void setupPlot();
    void rebuild();
    void rebuildOverlay();
    void rebuildRunMarks();
    void updateMarker();
    void updateTotal();
    void hover(QMouseEvent* event);
    bool eventFilter(QObject* watched, QEvent* event) override;
    double scale(const rs::LayerRecord& layer) const;
    int64_t rankOf(int row) const;
    void nameCurrentCurves();
    QString svdName() const;
    QString eoraName() const;

    std::vector<rs::LayerRecord> m_layers;
    std::vector<int64_t> m_ranks;
    QString m_ranksLabel;
    int m_current = -1;
    QList<int> m_overlaid;
    QList<qint64> m_runRanks;
    std::vector<QCPGraph*> m_overlayGraphs;
    std::vector<QCPAbstractItem*> m_runMarks;
    Normalization m_normalization = Normalization::ErrorLeft;
    bool m_log = false;
    Pair m_pair = Pair::Compensation;
    Normalization m_compensationNormalization = Normalization::ErrorLeft;

    QStackedWidget* m_stack;
    QComboBox* m_normCombo;
    QCheckBox* m_logBox;
    QCustomPlot* m_plot;
    QCPTextElement* m_title;
    QCPGraph* m_svd;
    QCPGraph* m_eora;
    QCPItemStraightLine* m_rankLine;
    QCPItemText* m_rankLabel;
    QCPItemStraightLine* m_hoverLine; // follows the mouse
    QCPItemTracer* m_svdTracer;
    QCPItemTracer* m_eoraTracer;
    QLabel* m_readout;
    QLabel* m_total;
};

} // namespace rs::ui
