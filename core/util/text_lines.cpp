#include "util/text_lines.h"

#include "util/error.h"
#include "util/file_kind.h"
#include "util/text.h"

#include <fstream>
#include <string>
#include <vector>

namespace rs {

namespace {

// Bytes at the end of `block` that begin a UTF-8 sequence the block does not finish: they are
// checked and handed on with the next block.
size_t unfinishedUtf8Tail(std::string_view block) {
    const size_t limit = std::min<size_t>(3, block.size());
    for (size_t back = 1; back <= limit; ++back) {
        const auto c = static_cast<unsigned char>(block[block.size() - back]);
        if ((c & 0xC0) == 0x80)
            continue; // a continuation byte: look further back for the lead byte
        const size_t length = (c & 0xE0) == 0xC0   ? 2
                              : (c & 0xF0) == 0xE0 ? 3
                              : (c & 0xF8) == 0xF0 ? 4
                                                   : 1;
        return length > back ? back : 0;
    }
    return 0;
}

// Hands on the lines of `text`; an unfinished last line goes as a piece (lineEnds false) whose
// rest comes with the next block, so no line is ever held whole here.
bool handLines(std::string_view text, const LinePieceFn& onPiece) {
    size_t begin = 0;
    while (begin < text.size()) {
        const size_t newline = text.find('\n', begin);
        if (newline == std::string_view::npos)
            return onPiece(text.substr(begin), false);
        if (!onPiece(text.substr(begin, newline + 1 - begin), true))
            return false;
        begin = newline + 1;
    }
    return true;
}

} // namespace

bool readTextLines(const std::filesystem::path& path, const LinePieceFn& onPiece,
                   const JobContext& job, const std::string& stage, size_t blockBytes) {
    requireRegularFile(path, "text file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(path.string(), "cannot open for reading");
    std::error_code ec;
    const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
    const std::string name = path.filename().string();
    std::vector<char> block(blockBytes + 3);
    size_t carried = 0; // an unfinished UTF-8 sequence from the block before
    int64_t offset = 0; // of block[0] in the file
    bool lineOpen = false;
    while (true) {
        job.cancel.throwIfCancelled();
        in.read(block.data() + carried, static_cast<std::streamsize>(blockBytes));
        if (in.bad())
            fail(path.string(), "read error");
        const size_t available = carried + static_cast<size_t>(in.gcount());
        const bool atEnd = in.gcount() == 0 || in.eof();
        if (offset == 0 && available == 0)
            fail(path.string(), "the text file is empty");
        std::string_view text(block.data(), available);
        size_t tail = atEnd ? 0 : unfinishedUtf8Tail(text);
        if (!atEnd && tail == 0 && !text.empty() && text.back() == '\r')
            tail = 1; // keeps a "\r\n" line end in one piece

        text.remove_suffix(tail);
        if (const size_t bad = findInvalidUtf8(text); bad != std::string::npos)
            fail(path.string(), "not valid UTF-8 (first bad byte at offset " +
                                    std::to_string(offset + static_cast<int64_t>(bad)) + ")");
        // Valid UTF-8, but no text holds one: a binary file, or a text damaged on disk.
        if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
            fail(path.string(), "holds a NUL byte at offset " +
                                    std::to_string(offset + static_cast<int64_t>(nul)) +
                                    " (a binary file, or a damaged text?)");
        const bool goOn = handLines(text, onPiece);
        offset += static_cast<int64_t>(text.size());
        job.report(stage, offset, size, name);
        if (!goOn)
            return false;
        if (!text.empty())
            lineOpen = text.back() != '\n';
        if (atEnd)
            break;
        std::copy(block.data() + text.size(), block.data() + available, block.data());
        carried = tail;
    }
    if (lineOpen)
        return onPiece({}, true); // the last line has no '\n'
    return true;
}

bool forEachLine(std::string_view text, const LinePieceFn& onPiece) {
    if (!handLines(text, onPiece))
        return false;
    if (!text.empty() && text.back() != '\n')
        return onPiece({}, true);
    return true;
}

} // namespace rs
