#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace rs::ui {

class LayerTableModel;

// The layer table with its filter box: a self-contained widget so that it can sit in a tab now and
// move into a dock beside the plot views later.
class LayerView : public QWidget {
    Q_OBJECT

public:
    explicit LayerView(LayerTableModel* model, QWidget* parent = nullptr);

    LayerTableModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    QTableView* table() const { return m_table; }
    QLineEdit* filterEdit() const { return m_filter; }

private:
    void updateCount();
    void fitColumns();

    LayerTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QLineEdit* m_filter;
    QLabel* m_count;
    QTableView* m_table;
};

} // namespace rs::ui
