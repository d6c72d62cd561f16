#pragma once

#include "util/error.h"

#include <filesystem>
#include <functional>
#include <string>

// Paths to the real test data (../shared/data) and to the project's own small fixtures, and small
// helpers shared by the tests.
namespace rs::test {

// The message of the rs::Error that f throws, or an empty string when it throws none.
inline std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const rs::Error& e) {
        return e.what();
    }
    return {};
}

inline std::filesystem::path dataPath(const std::string& relative) {
    return std::filesystem::path(RANKSCOPE_TEST_DATA) / relative;
}

inline std::filesystem::path fixturePath(const std::string& relative) {
    return std::filesystem::path(RANKSCOPE_TEST_FIXTURES) / relative;
}

inline std::filesystem::path stories260K() {
    return dataPath("models/stories260K");
}

} // namespace rs::test
