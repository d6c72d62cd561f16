#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

// Small pieces shared by the tokenizer formats (internal to core/tokenizer).
namespace rs::tok {

// Lets a piece -> id map be searched with a string_view, without building a std::string.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceIds = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline std::optional<int32_t> findPiece(const PieceIds& ids, std::string_view piece) {
    const auto it = ids.find(piece);
    return it == ids.end() ? std::nullopt : std::optional<int32_t>(it->second);
}

// "<0x0A>": the byte-fallback piece of a byte in SentencePiece, llama2.c and tokenizer.json.
std::string byteFallbackPiece(uint8_t byte);
// The byte a "<0xNN>" piece stands for; nullopt for any other piece.
std::optional<uint8_t> parseByteFallbackPiece(std::string_view piece);

// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible stand-in for a space.
inline constexpr std::string_view kMetaspace = "\xE2\x96\x81";

// decode() as the concatenation of decodeNext() (see Tokenizer), for every format here.
std::string decodeStreaming(const Tokenizer& tokenizer, std::span<const int32_t> ids);

// Fails naming `source` unless 0 <= id < vocabSize.
void checkTokenId(std::string_view source, int32_t id, int32_t vocabSize);

// Reads a whole file; fails naming it when it is missing or unreadable.
std::string readBinaryFile(const std::filesystem::path& file);

} // namespace rs::tok
