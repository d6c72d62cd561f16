#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// UTF-8 and Unicode helpers shared by the tokenizers (internal to core/tokenizer).
namespace rs::tok {

struct Utf8Char {
    char32_t codePoint;
    uint32_t length; // bytes consumed, at least 1
};

// Decodes the character starting at text[pos]. A malformed or truncated sequence decodes as
// U+FFFD of length 1, so that every byte of arbitrary input is consumed exactly once.
Utf8Char decodeUtf8(std::string_view text, size_t pos);

void appendUtf8(std::string& out, char32_t codePoint);

// The regex classes the pre-tokenizers need: \p{L}, \p{N}, \s (Unicode White_Space, as in the
// Oniguruma engine Hugging Face tokenizers uses), everything else.
enum class CharClass : uint8_t { Letter, Number, Space, Other };
CharClass classify(char32_t codePoint);

// Simple Unicode case folding, for case-insensitive regex groups.
char32_t foldCase(char32_t codePoint);

// Unicode normalization forms (tokenizer.json normalizers NFC, NFKC, NFD, NFKD).
enum class NormalForm { Nfc, Nfkc, Nfd, Nfkd };
std::string normalizeUnicode(std::string_view text, NormalForm form);

} // namespace rs::tok
