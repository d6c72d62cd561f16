#pragma once

#include "pipeline/lowrank_job.h"

#include <QWidget>
#include <optional>
#include <vector>

class QComboBox;
class QLineEdit;
class QSettings;
class QSpinBox;
class QStackedWidget;

namespace rs::ui {

class MethodForm;

// What a low-rank replacement run (LoRD, Lillama; docs/design.md §2) needs beyond the texts: the
// method with its registry parameters, and the sizes: one variant per parameter reduction of the
// selected linears, or one uniform rank.
class LowRankOptions : public QWidget {
    Q_OBJECT

public:
    enum class Sizes { Reductions, UniformRank };

    explicit LowRankOptions(QWidget* parent = nullptr);

    // Writes method and sizes into `request`; false with the reason in `problem`.
    bool fill(rs::LowRankRequest& request, QString* problem = nullptr) const;
    // Shows the method and sizes of a request (a stored experiment to re-run).
    void set(const rs::LowRankRequest& request);
    bool valid() const;

    void setSizes(Sizes sizes);
    void setReductions(const QString& text);
    void setRank(int rank);
    MethodForm* methodForm() const { return m_method; }

    void saveSettings(QSettings& settings) const;
    void restoreSettings(const QSettings& settings);

signals:
    void changed();

private:
    MethodForm* m_method;
    QComboBox* m_sizes;
    QStackedWidget* m_sizePages;
    QLineEdit* m_reductions;
    QSpinBox* m_rank;
};

// "20, 40" -> {20, 40}: percentages strictly between 0 and 100 (util/lists.h); nullopt for
// anything else.
std::optional<std::vector<double>> parseReductions(const QString& text);

} // namespace rs::ui
