#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode.h"

#include <algorithm>
#include <unordered_map>

namespace rs::tok {

namespace {

constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Leftmost-first alternation with backtracking, written out for the known patterns. Works on
// code points; matchEnd(i) returns the end (exclusive, in code points) of the match at i.
class PatternMatcher {
public:
    PatternMatcher(std::string_view text, const SplitPattern& pattern)
        : m_pattern(pattern) {
        m_codePoints.reserve(text.size());
        m_classes.reserve(text.size());
        m_offsets.reserve(text.size() + 1);
        for (size_t pos = 0; pos < text.size();) {
            const Utf8Char c = decodeUtf8(text, pos);
            m_codePoints.push_back(c.codePoint);
            m_classes.push_back(classify(c.codePoint));
            m_offsets.push_back(pos);
            pos += c.length;
        }
        m_offsets.push_back(text.size());
    }

    size_t size() const { return m_codePoints.size(); }
    size_t offset(size_t i) const { return m_offsets[i]; }

    size_t matchEnd(size_t i) const {
        const size_t n = size();
        if (m_codePoints[i] == U'\'') {
            if (const size_t length = contractionLength(i + 1)) {
                return i + 1 + length;
            }
        }
        if (is(i, CharClass::Letter)) {
            return runEnd(i, CharClass::Letter);
        }
        if (m_pattern.llama3Style) {
            if (!isLineBreak(i) && !is(i, CharClass::Number) && is(i + 1, CharClass::Letter)) {
                return runEnd(i + 1, CharClass::Letter);
            }
        } else if (m_codePoints[i] == U' ' && is(i + 1, CharClass::Letter)) {
            return runEnd(i + 1, CharClass::Letter);
        }
        if (m_pattern.maxDigits > 0) {
            if (is(i, CharClass::Number)) {
                return std::min(runEnd(i, CharClass::Number), i + m_pattern.maxDigits);
            }
        } else if (is(i, CharClass::Number)) {
            return runEnd(i, CharClass::Number);
        } else if (m_codePoints[i] == U' ' && is(i + 1, CharClass::Number)) {
            return runEnd(i + 1, CharClass::Number);
        }
        const size_t punctStart =
            (m_codePoints[i] == U' ' && is(i + 1, CharClass::Other)) ? i + 1 : i;
        if (is(punctStart, CharClass::Other)) {
            size_t end = runEnd(punctStart, CharClass::Other);
            if (m_pattern.llama3Style) {
                while (end < n && isLineBreak(end)) {
                    ++end;
                }
            }
            return end;
        }
        // Only whitespace is left here.
        const size_t end = runEnd(i, CharClass::Space);
        if (m_pattern.llama3Style) {
            // \s*[\r\n]+ : the longest whitespace prefix that ends in a line break.
            for (size_t j = end; j > i; --j) {
                if (isLineBreak(j - 1)) {
                    return j;
                }
            }
        }
        // \s+(?!\S) leaves the last space to the word that follows; a single space falls to \s+.
        if (end == n || end - i == 1) {
            return end;
        }
        return end - 1;
    }

private:
    bool is(size_t i, CharClass c) const { return i < size() && m_classes[i] == c; }
    bool isLineBreak(size_t i) const {
        return i < size() && (m_codePoints[i] == U'\r' || m_codePoints[i] == U'\n');
    }
    size_t runEnd(size_t i, CharClass c) const {
        while (is(i, c)) {
            ++i;
        }
        return i;
    }
    bool matchesAt(size_t i, std::u32string_view word) const {
        for (size_t k = 0; k < word.size(); ++k) {
            if (i + k >= size()) {
                return false;
            }
            const char32_t c = m_codePoints[i + k];
            if (c != word[k] &&
                !(m_pattern.caseInsensitiveContractions && foldCase(c) == word[k])) {
                return false;
            }
        }
        return true;
    }
    // Length after the apostrophe of 's|'t|'re|'ve|'m|'ll|'d at i, or 0.
    size_t contractionLength(size_t i) const {
        for (const std::u32string_view word : {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"}) {
            if (matchesAt(i, word)) {
                return word.size();
            }
        }
        return 0;
    }

    SplitPattern m_pattern;
    std::vector<char32_t> m_codePoints;
    std::vector<CharClass> m_classes;
    std::vector<size_t> m_offsets;
};

} // namespace

SplitPattern gpt2SplitPattern() {
    return {};
}

std::optional<SplitPattern> recognizeSplitPattern(std::string_view regex) {
    if (regex == kGpt2Pattern) {
        return gpt2SplitPattern();
    }
    if (regex == kLlama3Pattern) {
        return SplitPattern{true, true, 3};
    }
    if (regex == kQwen2Pattern) {
        return SplitPattern{true, true, 1};
    }
    return std::nullopt;
}

void splitByPattern(std::string_view text, const SplitPattern& pattern,
                    std::vector<std::string_view>& out) {
    const PatternMatcher matcher(text, pattern);
    for (size_t i = 0; i < matcher.size();) {
        const size_t end = std::max(matcher.matchEnd(i), i + 1);
        out.push_back(text.substr(matcher.offset(i), matcher.offset(end) - matcher.offset(i)));
        i = end;
    }
}

void splitDigits(std::string_view text, bool individual, std::vector<std::string_view>& out) {
    size_t start = 0;
    bool inDigits = false;
    for (size_t pos = 0; pos < text.size();) {
        const Utf8Char c = decodeUtf8(text, pos);
        const bool digit = classify(c.codePoint) == CharClass::Number;
        if (pos > start && (digit != inDigits || (digit && individual))) {
            out.push_back(text.substr(start, pos - start));
            start = pos;
        }
        inDigits = digit;
        pos += c.length;
    }
    if (start < text.size()) {
        out.push_back(text.substr(start));
    }
}

void splitBeforeMarker(std::string_view text, std::string_view marker,
                       std::vector<std::string_view>& out) {
    if (marker.empty()) {
        out.push_back(text);
        return;
    }
    size_t start = 0;
    for (size_t pos = text.find(marker, text.starts_with(marker) ? marker.size() : 0);
         pos != std::string_view::npos; pos = text.find(marker, pos + marker.size())) {
        out.push_back(text.substr(start, pos - start));
        start = pos;
    }
    if (start < text.size()) {
        out.push_back(text.substr(start));
    }
}

bool joinsAcrossMarker(std::string_view piece, std::string_view marker) {
    for (size_t pos = piece.find(marker, 1); pos != std::string_view::npos;
         pos = piece.find(marker, pos + 1)) {
        if (pos < marker.size() || piece.substr(pos - marker.size(), marker.size()) != marker) {
            return true;
        }
    }
    return false;
}

void cutBeforeWordStarts(std::string_view text, std::string_view marker,
                         std::vector<std::string_view>& out) {
    size_t start = 0;
    for (size_t pos = text.find(marker, 1); pos != std::string_view::npos;
         pos = text.find(marker, pos + marker.size())) {
        if (pos - start >= marker.size() &&
            text.substr(pos - marker.size(), marker.size()) == marker) {
            continue; // inside a run of markers
        }
        out.push_back(text.substr(start, pos - start));
        start = pos;
    }
    if (start < text.size()) {
        out.push_back(text.substr(start));
    }
}

std::vector<int32_t>
encodeWordByWord(std::string_view text, std::string_view marker,
                 const std::function<std::vector<int32_t>(std::string_view)>& encodeWord) {
    std::vector<std::string_view> words;
    cutBeforeWordStarts(text, marker, words);
    std::unordered_map<std::string_view, std::vector<int32_t>> cache;
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3);
    for (const std::string_view word : words) {
        auto it = cache.find(word);
        if (it == cache.end())
            it = cache.emplace(word, encodeWord(word)).first;
        ids.insert(ids.end(), it->second.begin(), it->second.end());
    }
    return ids;
}

} // namespace rs::tok
