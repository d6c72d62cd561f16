#pragma once

#include <QWidget>

class QLabel;
class QTableWidget;

namespace rs::ui {

struct LoadedExperiment;

// An experiment's outcome where the user ran it: its name and what it ran, then the perplexity
// of the original model, of the compressed model without compensation and of every variant,
// each with its change against the uncompensated one and its adapter size.
class RunResults : public QWidget {
    Q_OBJECT

public:
    explicit RunResults(QWidget* parent = nullptr);

    void showExperiment(const LoadedExperiment& loaded);
    void clear();

    QLabel* titleLabel() const { return m_title; }
    QTableWidget* table() const { return m_table; }

    // One line naming an experiment: "Experiment 3 “name” · rtn:bits=3 + eora, svd · done".
    static QString headline(const LoadedExperiment& loaded);

private:
    void addRow(const QString& label, double perplexity, double reference, qint64 adapter);

    QLabel* m_title;
    QTableWidget* m_table;
};

} // namespace rs::ui
