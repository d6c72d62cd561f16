#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace rs {

// Reads a whole text file. Fails with a message naming the file when it cannot be read, is empty,
// or is not valid UTF-8 (the offset of the first bad byte is reported).
std::string readTextFile(const std::filesystem::path& path);

// Returns the byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
size_t findInvalidUtf8(std::string_view text);

// Human-readable byte and count formatting for summaries and error messages.
std::string formatBytes(uint64_t bytes);
std::string formatCount(int64_t count);

} // namespace rs
