#pragma once

#include <QComboBox>

namespace rs::ui {

// A combo box whose minimum width does not grow with its longest item (the popup still shows it
// whole), so that panels and views fit small screens; the current text elides when narrow.
inline QComboBox* compactCombo(QComboBox* box, int minimumCharacters = 10) {
    box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    box->setMinimumContentsLength(minimumCharacters);
    return box;
}

} // namespace rs::ui
