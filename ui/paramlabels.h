#pragma once

#include <QString>
#include <string>

namespace rs::ui {

// The display name of a method parameter (the registry's English label), in the UI language.
// The core has no Qt, so its labels are listed in paramlabels.cpp for lupdate; a label missing
// there shows in English, and tst_translation fails on it.
QString paramLabel(const std::string& label);
// Whether `label` is listed for translation.
bool isTranslatableParamLabel(const std::string& label);

} // namespace rs::ui
