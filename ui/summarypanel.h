#pragma once

#include <QWidget>
#include <string>
#include <vector>

class QFormLayout;
class QLabel;
class QStackedWidget;

namespace rs {
struct ModelSummary;
}

namespace rs::ui {

// The left-hand model panel: what the open model is (architecture, shapes, parameter counts,
// tokenizer), or a hint on how to open one.
class SummaryPanel : public QWidget {
    Q_OBJECT

public:
    explicit SummaryPanel(QWidget* parent = nullptr);

    // modelPath is what the user opened; tokenizer is a description or empty when there is none.
    void showSummary(const QString& modelPath, const rs::ModelSummary& summary,
                     const QString& tokenizer);
    void clear();

    // The value shown for a field ("parameters", "layers", ..., "warning"), for tests and scripts.
    QString fieldText(const QString& field) const;

private:
    QLabel* addField(const QString& field, const QString& label);
    void showUnusedTensors(const std::vector<std::string>& names);

    QStackedWidget* m_pages;
    QFormLayout* m_form;
    QLabel* m_title;
    QLabel* m_warning; // tensors the config does not use; hidden when there are none
};

} // namespace rs::ui
