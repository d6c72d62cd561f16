#pragma once

#include <exception>
#include <string>

namespace rs {

// nlohmann's message without its "[json.exception.parse_error.101] " prefix: the rest says where
// and what ("parse error at line 1, column 5: syntax error ...").
inline std::string jsonErrorText(const std::exception& e) {
    std::string text = e.what();
    if (const auto close = text.find("] ");
        !text.empty() && text[0] == '[' && close != std::string::npos)
        text.erase(0, close + 2);
    return text;
}

} // namespace rs
