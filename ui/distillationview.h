#pragma once

#include "store/distillations.h"
#include "store/records.h"

#include <QWidget>
#include <vector>

class QCheckBox;
class QComboBox;
class QCPItemStraightLine;
class QCPItemText;
class QCPTextElement;
class QCustomPlot;
class QLabel;
class QStackedWidget;

namespace rs::ui {

// Lillama's local feature distillation, per decoder block (docs/design.md §2): the training loss at
// every optimiser step, the checked losses (step 0 is the SVD initialisation) and the step whose
// weights were kept. "All blocks" overlays the checked losses of every block of the variant, to
// see which blocks the distillation helped most. The records come from the store.
class DistillationView : public QWidget {
    Q_OBJECT

public:
    static constexpr int64_t kAllBlocks = -1;

    explicit DistillationView(QWidget* parent = nullptr);

    // The records of one experiment and its variants (for their labels); shows the first variant
    // that has records, all blocks. An experiment without records shows an explanation.
    void setRecords(std::vector<rs::DistillationRecord> records,
                    std::vector<rs::VariantRecord> variants);
    void clear();
    const std::vector<rs::DistillationRecord>& records() const { return m_records; }

    // Shows one block of the current variant, or every block with kAllBlocks. A block without a
    // record leaves the view as it is and returns false.
    bool showBlock(int64_t block);
    int64_t currentBlock() const { return m_block; }
    // Variant index (VariantRecord::index) whose records are shown; false when it has none.
    bool showVariant(int variant);
    int currentVariant() const { return m_variant; }
    void setLogScale(bool log);

    QCustomPlot* plot() const { return m_plot; }
    QComboBox* blockCombo() const { return m_blockCombo; }
    QComboBox* variantCombo() const { return m_variantCombo; }
    QLabel* summaryLabel() const { return m_summary; }
    // The vertical line at the kept step (one block only).
    QCPItemStraightLine* bestLine() const { return m_bestLine; }

private:
    void setupPlot();
    void rebuildBlockCombo();
    void rebuild();
    void plotBlock(const rs::DistillationRecord& record);
    void plotAllBlocks();
    std::vector<const rs::DistillationRecord*> recordsOfVariant() const;
    const rs::DistillationRecord* recordOf(int64_t block) const;
    QString variantLabel(int variant) const;

    std::vector<rs::DistillationRecord> m_records;
    std::vector<rs::VariantRecord> m_variants;
    int m_variant = -1;
    int64_t m_block = kAllBlocks;
    bool m_log = false;

    QStackedWidget* m_stack;
    QComboBox* m_variantCombo;
    QLabel* m_variantLabel;
    QComboBox* m_blockCombo;
    QCheckBox* m_logBox;
    QCustomPlot* m_plot;
    QCPTextElement* m_title;
    QCPItemStraightLine* m_bestLine;
    QCPItemText* m_bestLabel;
    QLabel* m_summary;
};

} // namespace rs::ui
