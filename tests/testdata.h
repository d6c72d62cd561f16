#pragma once

#include "util/error.h"

#include <cstdint>
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

// Bytes of every regular file below `dir` (0 when it does not exist).
inline uint64_t directoryBytes(const std::filesystem::path& dir) {
    uint64_t bytes = 0;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec))
            bytes += it->file_size(ec);
    return bytes;
}

inline std::filesystem::path stories260K() {
    return dataPath("models/stories260K");
}

} // namespace rs::test
