#pragma once

// File and error helpers shared by the checkpoint, hashing and artefact cache tests. Free of Qt
// headers on purpose: included before LibTorch's, Qt's `slots` macro would break them.

#include "testdata.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

// Fails the test unless `expr` throws rs::Error "<subject>: ...<problem>..." on a single line.
#define QVERIFY_ERROR(expr, subject, problem)                                                      \
    do {                                                                                           \
        const std::string message_ = rs::test::errorOf([&] { expr; });                             \
        const std::string prefix_ = std::string(subject) + ": ";                                   \
        QVERIFY2(!message_.empty(), "no rs::Error thrown");                                        \
        QVERIFY2(message_.rfind(prefix_, 0) == 0, ("wrong subject: " + message_).c_str());         \
        QVERIFY2(message_.find(problem) != std::string::npos,                                      \
                 ("wrong problem: " + message_).c_str());                                          \
        QVERIFY2(message_.find('\n') == std::string::npos, ("not one line: " + message_).c_str()); \
    } while (false)

namespace rs::test {

namespace fs = std::filesystem;

inline std::string readBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeBytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

} // namespace rs::test
