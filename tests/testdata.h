#pragma once

#include <filesystem>
#include <string>

// Paths to the real test data (../shared/data) and to the project's own small fixtures.
namespace rs::test {

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
