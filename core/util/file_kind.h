#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace rs {

// What a path is when it is not a regular file: "no such file", "is a directory", "is a named
// pipe (FIFO)", "is a device", "is a socket"; empty for a regular file (symlinks are followed).
std::string notARegularFile(const std::filesystem::path& path);

// Fails "<path>: <what notARegularFile says>, not a <what>" unless `path` is a regular file,
// e.g. "/tmp: is a directory, not a text file".
void requireRegularFile(const std::filesystem::path& path, std::string_view what);

} // namespace rs
