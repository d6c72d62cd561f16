#include "tokenizer/pieces.h"

#include "util/error.h"

#include <fstream>
#include <iterator>

namespace rs::tok {

std::string byteFallbackPiece(uint8_t byte) {
    constexpr char kHex[] = "0123456789ABCDEF";
    return std::string("<0x") + kHex[byte >> 4] + kHex[byte & 15] + ">";
}

std::optional<uint8_t> parseByteFallbackPiece(std::string_view piece) {
    if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') {
        return std::nullopt;
    }
    const auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    };
    const int high = digit(piece[3]);
    const int low = digit(piece[4]);
    if (high < 0 || low < 0) {
        return std::nullopt;
    }
    return static_cast<uint8_t>(high * 16 + low);
}

std::string decodeStreaming(const Tokenizer& tokenizer, std::span<const int32_t> ids) {
    std::string text;
    int32_t previous = Tokenizer::kStart;
    for (const int32_t id : ids) {
        text += tokenizer.decodeNext(previous, id);
        previous = id;
    }
    return text;
}

void checkTokenId(std::string_view source, int32_t id, int32_t vocabSize) {
    if (id < 0 || id >= vocabSize) {
        fail(source, "token id " + std::to_string(id) + " is outside the vocabulary (" +
                         std::to_string(vocabSize) + " tokens)");
    }
}

std::string readBinaryFile(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        fail(file.string(), "no such file");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        fail(file.string(), "cannot open for reading");
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) {
        fail(file.string(), "read error");
    }
    return bytes;
}

} // namespace rs::tok
