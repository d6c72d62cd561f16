#include "paramlabels.h"

#include <QCoreApplication>
#include <algorithm>
#include <cstring>
#include <iterator>

namespace rs::ui {

namespace {

// Every label of core/methods/registry.cpp, in the context the method form translates them in.
constexpr const char* kLabels[] = {
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Act-order"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Alpha"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Batch"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Bits"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Block size"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Damping"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Factor bits"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Group size"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Layer fraction"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Learning rate"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "N:M pattern"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Rank allocation"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Seed"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Sparsity"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Steps"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Symmetric"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Then quantize (bits)"),
    QT_TRANSLATE_NOOP("rs::ui::MethodForm", "Weight decay"),
};

constexpr const char* kContext = "rs::ui::MethodForm";

} // namespace

bool isTranslatableParamLabel(const std::string& label) {
    return std::any_of(std::begin(kLabels), std::end(kLabels),
                       [&](const char* listed) { return label == listed; });
}

QString paramLabel(const std::string& label) {
    return QCoreApplication::translate(kContext, label.c_str());
}

} // namespace rs::ui
