#pragma once

#include <QString>
#include <string>

// The engine speaks UTF-8 std::string; the widgets speak QString. These two conversions are the
// only bridge, so no file converts through the local 8-bit codec by accident.
namespace rs::ui {

inline QString fromUtf8(const std::string& text) {
    return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
}

inline std::string toUtf8(const QString& text) {
    return text.toUtf8().toStdString();
}

} // namespace rs::ui
