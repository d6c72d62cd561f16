#pragma once

#include <QWidget>
#include <filesystem>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace rs::ui {

class ExperimentModel;

// The experiment history from the store: sortable, filterable; open one, compare any number
// side by side (the ticked ones, else the selected ones), put one's settings back into the run
// panel, rename and annotate, delete with confirmation. It reads and writes the store through its
// own connection on the GUI thread (listings are fast; jobs write through theirs).
class ExperimentsView : public QWidget {
    Q_OBJECT

public:
    explicit ExperimentsView(QWidget* parent = nullptr);

    void setDatabase(const std::filesystem::path& database);
    const std::filesystem::path& database() const { return m_database; }

    // Reloads the listing; keeps the selection where it can. Errors show in the view's label.
    void refresh();
    // Ids of the selected experiments, in table order.
    QList<qint64> selectedIds() const;
    // What Compare compares: the ticked experiments when any is ticked, else the selected ones;
    // oldest first, so that the oldest is the baseline.
    QList<qint64> compareIds() const;
    void selectExperiment(qint64 id);

    ExperimentModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    QTableView* table() const { return m_table; }
    QLineEdit* filterEdit() const { return m_filter; }
    QPushButton* compareButton() const { return m_compare; }
    QPushButton* reuseButton() const { return m_reuse; }
    QLabel* messageLabel() const { return m_message; }

    // Actions without dialogs (the dialogs call them; tests too).
    bool renameExperiment(qint64 id, const QString& name, const QString& notes);
    bool deleteExperiment(qint64 id);

signals:
    void openRequested(qint64 id);
    void compareRequested(const QList<qint64>& ids);
    // "Use Settings": the run panel should show experiment `id`'s request, to run it again.
    void reuseRequested(qint64 id);
    // The listing changed (rename, delete, refresh after a run).
    void experimentsChanged();

private:
    void updateButtons();
    void editSelected();
    void deleteSelected();
    void showError(const QString& message);

    std::filesystem::path m_database;
    ExperimentModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QLineEdit* m_filter;
    QTableView* m_table;
    QPushButton* m_open;
    QPushButton* m_compare;
    QPushButton* m_reuse;
    QPushButton* m_edit;
    QPushButton* m_delete;
    QLabel* m_message;
};

} // namespace rs::ui
