#pragma once

#include "util/progress.h"

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

namespace rs {

// Receives a text line by line. A line arrives in one or more pieces (a line longer than a read
// block in several); `lineEnds` marks its last piece, which holds the '\n' when there is one
// (and the '\r' before it, for a "\r\n" line end).
// Returns false to stop reading.
using LinePieceFn = std::function<bool(std::string_view piece, bool lineEnds)>;

// Reads a text file in blocks of `blockBytes`, so memory does not grow with the file, and hands it
// on line by line. Fails naming the file, as readTextFile does, when it is no regular file, cannot
// be read, is empty, or holds invalid UTF-8 (with the offset of the first bad byte) in the part
// read. Reports the bytes read under `stage` and honours cancellation between blocks. Returns
// true when the whole file was read, false when `onPiece` stopped it.
bool readTextLines(const std::filesystem::path& path, const LinePieceFn& onPiece,
                   const JobContext& job = {}, const std::string& stage = "read",
                   size_t blockBytes = size_t(1) << 20);

// The same for a text in memory (each line in one piece); returns true when it was all handed on.
bool forEachLine(std::string_view text, const LinePieceFn& onPiece);

} // namespace rs
