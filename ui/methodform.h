#pragma once

#include "methods/registry.h"

#include <QWidget>
#include <map>

class QComboBox;
class QFormLayout;

namespace rs::ui {

// A method picker and its parameter controls, generated from the method registry: a combo box of
// the methods of one kind, and below it one control per ParamSpec of the chosen method (combo box
// for choices, spin box for ranges, check box for flags). No method is hand-written here, so a new
// registry entry appears in the GUI as it does in the CLI.
class MethodForm : public QWidget {
    Q_OBJECT

public:
    explicit MethodForm(rs::MethodKind kind, QWidget* parent = nullptr);

    // The chosen method with every parameter as shown (validated by the registry).
    rs::MethodConfig config() const;
    // Shows `config` (method and parameter values).
    void setConfig(const rs::MethodConfig& config);
    // "rtn:bits=3,group=32,sym=false" — the registry's own serialisation, for settings.
    QString serialized() const;
    // Restores a serialised config; returns false (and changes nothing) when it does not parse.
    bool setSerialized(const QString& text);

    QComboBox* methodBox() const { return m_method; }
    // The control of one parameter of the current method (nullptr when it has none).
    QWidget* parameterWidget(const QString& key) const;

signals:
    void changed();

private:
    void rebuildParameters();
    QWidget* createControl(const rs::ParamSpec& spec);
    static QString valueOf(const rs::ParamSpec& spec, const QWidget* control);
    static void showValue(const rs::ParamSpec& spec, QWidget* control, const QString& value);

    rs::MethodKind m_kind;
    QComboBox* m_method;
    QFormLayout* m_params;
    std::map<QString, QWidget*> m_controls;
};

} // namespace rs::ui
