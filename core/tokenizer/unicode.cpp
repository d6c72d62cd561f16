#include "tokenizer/unicode.h"

#include "util/error.h"

#include <array>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace rs::tok {

Utf8Char decodeUtf8(std::string_view text, size_t pos) {
    constexpr Utf8Char invalid{0xFFFD, 1};
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) {
        return {lead, 1};
    }
    uint32_t length = 0;
    char32_t cp = 0;
    char32_t minimum = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2, cp = lead & 0x1F, minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3, cp = lead & 0x0F, minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4, cp = lead & 0x07, minimum = 0x10000;
    } else {
        return invalid;
    }
    if (pos + length > text.size()) {
        return invalid;
    }
    for (uint32_t i = 1; i < length; ++i) {
        if ((byte(pos + i) & 0xC0) != 0x80) {
            return invalid;
        }
        cp = (cp << 6) | (byte(pos + i) & 0x3F);
    }
    if (cp < minimum || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return invalid;
    }
    return {cp, length};
}

void appendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

namespace {

CharClass classifyWithIcu(char32_t cp) {
    const auto c = static_cast<UChar32>(cp);
    if (u_isUWhiteSpace(c)) {
        return CharClass::Space;
    }
    const uint32_t mask = U_GET_GC_MASK(c);
    if (mask & U_GC_L_MASK) {
        return CharClass::Letter;
    }
    if (mask & U_GC_N_MASK) {
        return CharClass::Number;
    }
    return CharClass::Other;
}

// ASCII dominates real text; a table keeps the ICU call off that path.
const std::array<CharClass, 128> kAsciiClasses = [] {
    std::array<CharClass, 128> table{};
    for (char32_t c = 0; c < 128; ++c) {
        table[c] = classifyWithIcu(c);
    }
    return table;
}();

} // namespace

CharClass classify(char32_t cp) {
    return cp < 128 ? kAsciiClasses[cp] : classifyWithIcu(cp);
}

char32_t foldCase(char32_t cp) {
    return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(cp), U_FOLD_CASE_DEFAULT));
}

std::string normalizeUnicode(std::string_view text, NormalForm form) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = nullptr;
    switch (form) {
    case NormalForm::Nfc:
        normalizer = icu::Normalizer2::getNFCInstance(status);
        break;
    case NormalForm::Nfkc:
        normalizer = icu::Normalizer2::getNFKCInstance(status);
        break;
    case NormalForm::Nfd:
        normalizer = icu::Normalizer2::getNFDInstance(status);
        break;
    case NormalForm::Nfkd:
        normalizer = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status)) {
        fail("ICU", std::string("cannot load Unicode normalization data: ") + u_errorName(status));
    }
    const auto source = icu::UnicodeString::fromUTF8(icu::StringPiece(text.data(), text.size()));
    if (normalizer->isNormalized(source, status) && U_SUCCESS(status)) {
        return std::string(text);
    }
    status = U_ZERO_ERROR;
    const icu::UnicodeString normalized = normalizer->normalize(source, status);
    if (U_FAILURE(status)) {
        fail("ICU", std::string("Unicode normalization failed: ") + u_errorName(status));
    }
    std::string out;
    normalized.toUTF8String(out);
    return out;
}

} // namespace rs::tok
