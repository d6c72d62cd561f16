#include "eval/token_stream.h"

#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text_lines.h"

#include <algorithm>
#include <limits>

namespace rs {

namespace {

constexpr std::string_view kStorySeparator = "<|endoftext|>";
// A line longer than this cannot be a separator line, so it need not be held whole.
constexpr size_t kSeparatorLineBytes = 256;

std::string_view trim(std::string_view s) {
    const auto isSpace = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    };
    while (!s.empty() && isSpace(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && isSpace(s.back()))
        s.remove_suffix(1);
    return s;
}

bool isAsciiLetter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The last place where `text` may be cut before a word (Tokenizer::splitsAtWords): a single
// space between ASCII letters. npos when there is none.
size_t lastWordCut(std::string_view text) {
    for (size_t i = text.size() < 2 ? 0 : text.size() - 2; i >= 1; --i)
        if (text[i] == ' ' && isAsciiLetter(text[i - 1]) && isAsciiLetter(text[i + 1]))
            return i;
    return std::string_view::npos;
}

int32_t requireBos(const Tokenizer& tokenizer, Protocol protocol) {
    const auto bos = tokenizer.bosId();
    if (!bos)
        fail(tokenizer.describe(), std::string("has no BOS token, which the ") +
                                       protocolName(protocol) + " protocol needs");
    return *bos;
}

// Turns a text, handed on line by line, into the protocol's tokens. Memory: one story
// (TinyStories) or one part of the joined text (WikiText) besides the tokens kept.
class ProtocolEncoder {
public:
    ProtocolEncoder(Protocol protocol, const Tokenizer& tokenizer, int64_t maxTokens,
                    bool keepTokens, size_t partBytes)
        : m_protocol(protocol)
        , m_tokenizer(tokenizer)
        , m_bos(requireBos(tokenizer, protocol))
        , m_maxTokens(maxTokens)
        , m_keepTokens(keepTokens)
        , m_partBytes(std::max<size_t>(partBytes, 64))
        , m_nextCutAt(m_partBytes) {}

    // False once the tokens asked for are there.
    bool feed(std::string_view piece, bool lineEnds) {
        // A byte-order mark some editors put first is no text (U+FEFF would be scored).
        if (m_firstPiece && piece.starts_with("\xEF\xBB\xBF"))
            piece.remove_prefix(3);
        m_firstPiece = false;
        if (!m_sawText && !trim(piece).empty())
            m_sawText = true;
        // Windows line ends are line ends: "\r\n" reads as "\n", so a text scores the same
        // whichever system saved it.
        std::string unixLine;
        if (lineEnds && piece.ends_with("\r\n")) {
            unixLine.assign(piece.substr(0, piece.size() - 2)).push_back('\n');
            piece = unixLine;
        }
        return m_protocol == Protocol::TinyStories ? feedStoryLine(piece, lineEnds)
                                                   : feedWikiTextLine(piece, lineEnds);
    }

    // After the last line (or a stop): encodes what is left and checks there was a text.
    void finish(const std::string& source) {
        try {
            if (!enough() && m_protocol == Protocol::TinyStories)
                flushStory();
            else if (!enough())
                encodeWikiTextPart(m_buffer.size());
        } catch (const Error& e) {
            if (source.empty())
                throw;
            fail(source, e.what()); // the tokenizer's error, naming the text too
        }
        const std::string name = source.empty() ? "evaluation text" : source;
        if (!m_sawText)
            fail(name, "holds no text to evaluate (only blank lines)");
        if (m_documents == 0 || m_count < 2)
            fail(name, "holds no text to evaluate");
        if (m_maxTokens > 0 && static_cast<int64_t>(m_tokens.size()) > m_maxTokens)
            m_tokens.resize(static_cast<size_t>(m_maxTokens)); // independent of the part size
    }

    int64_t count() const { return m_count; }
    int64_t documents() const { return m_documents; }
    std::vector<int32_t> takeTokens() { return std::move(m_tokens); }

private:
    bool enough() const { return m_maxTokens > 0 && m_count >= m_maxTokens; }

    void emit(std::optional<int32_t> bos, const std::vector<int32_t>& ids) {
        m_count += static_cast<int64_t>(ids.size()) + (bos ? 1 : 0);
        if (!m_keepTokens)
            return;
        if (bos)
            m_tokens.push_back(*bos);
        m_tokens.insert(m_tokens.end(), ids.begin(), ids.end());
    }

    bool feedStoryLine(std::string_view piece, bool lineEnds) {
        if (m_lineSpilled) {
            m_story.append(piece);
        } else {
            m_line.append(piece);
            if (m_line.size() > kSeparatorLineBytes) {
                m_story.append(m_line);
                m_line.clear();
                m_lineSpilled = true;
            }
        }
        if (!lineEnds)
            return true;
        const bool separator = !m_lineSpilled && trim(m_line) == kStorySeparator;
        if (!separator)
            m_story.append(m_line);
        m_line.clear();
        m_lineSpilled = false;
        if (separator)
            flushStory();
        return !enough();
    }

    void flushStory() {
        const std::string_view body = trim(m_story);
        if (!body.empty()) {
            emit(m_bos, m_tokenizer.encode(body));
            ++m_documents;
        }
        m_story.clear();
    }

    bool feedWikiTextLine(std::string_view piece, bool lineEnds) {
        if (!m_lineOpen) {
            if (piece.empty())
                return true;
            if (m_documents > 0)
                m_buffer.append("\n\n");
            ++m_documents;
            m_lineOpen = true;
        }
        m_buffer.append(piece);
        if (lineEnds)
            m_lineOpen = false;
        if (m_buffer.size() < m_nextCutAt || !m_tokenizer.splitsAtWords())
            return true;
        const size_t cut = lastWordCut(m_buffer);
        if (cut == std::string_view::npos) {
            m_nextCutAt = m_buffer.size() + m_partBytes; // look again a part later
            return true;
        }
        encodeWikiTextPart(cut);
        m_nextCutAt = m_partBytes;
        return !enough();
    }

    // Encodes the buffer's first `length` bytes and drops them: the first part as a text, the
    // others as continuations of it.
    void encodeWikiTextPart(size_t length) {
        const std::string_view part(m_buffer.data(), length);
        if (m_firstPart)
            emit(m_bos, m_tokenizer.encode(part));
        else if (!part.empty())
            emit(std::nullopt, m_tokenizer.encodeContinuation(part));
        m_firstPart = false;
        m_buffer.erase(0, length);
    }

    const Protocol m_protocol;
    const Tokenizer& m_tokenizer;
    const int32_t m_bos;
    const int64_t m_maxTokens;
    const bool m_keepTokens;
    const size_t m_partBytes;

    int64_t m_count = 0;
    int64_t m_documents = 0;
    bool m_sawText = false; // a character other than white space
    bool m_firstPiece = true;
    std::vector<int32_t> m_tokens;
    // TinyStories: the line being read (while it could be a separator) and the story.
    std::string m_line;
    bool m_lineSpilled = false;
    std::string m_story;
    // WikiText: the joined text not encoded yet.
    std::string m_buffer;
    bool m_lineOpen = false;
    bool m_firstPart = true;
    size_t m_nextCutAt;
};

} // namespace

const char* protocolName(Protocol protocol) {
    return protocol == Protocol::TinyStories ? "tinystories" : "wikitext";
}

std::optional<Protocol> parseProtocol(std::string_view name) {
    if (name == "tinystories")
        return Protocol::TinyStories;
    if (name == "wikitext")
        return Protocol::WikiText;
    return std::nullopt;
}

namespace {

// Finds a separator line among lines handed on piece by piece.
class SeparatorFinder {
public:
    bool found() const { return m_found; }
    // False once found.
    bool feed(std::string_view piece, bool lineEnds) {
        if (m_line.size() <= kSeparatorLineBytes)
            m_line.append(piece.substr(0, kSeparatorLineBytes + 1));
        if (lineEnds) {
            m_found = m_line.size() <= kSeparatorLineBytes && trim(m_line) == kStorySeparator;
            m_line.clear();
        }
        return !m_found;
    }

private:
    std::string m_line;
    bool m_found = false;
};

} // namespace

namespace {

// Hands a file's lines to the encoder; an encoding error (a character the tokenizer cannot
// encode) names the text as well as the tokenizer.
LinePieceFn feedNaming(ProtocolEncoder& encoder, const std::filesystem::path& file) {
    return [&encoder, file](std::string_view piece, bool lineEnds) {
        try {
            return encoder.feed(piece, lineEnds);
        } catch (const CancelledError&) {
            throw;
        } catch (const Error& e) {
            fail(file.string(), e.what());
        }
    };
}

} // namespace

Protocol detectProtocol(std::string_view text) {
    SeparatorFinder finder;
    forEachLine(text, [&](std::string_view piece, bool ends) { return finder.feed(piece, ends); });
    return finder.found() ? Protocol::TinyStories : Protocol::WikiText;
}

Protocol detectProtocolOfFile(const std::filesystem::path& file, const JobContext& job) {
    SeparatorFinder finder;
    readTextLines(
        file, [&](std::string_view piece, bool ends) { return finder.feed(piece, ends); }, job,
        "read");
    return finder.found() ? Protocol::TinyStories : Protocol::WikiText;
}

TokenStream buildTokenStream(std::string_view text, Protocol protocol, const Tokenizer& tokenizer) {
    // A text in memory is encoded in one part, as the protocol defines it.
    ProtocolEncoder encoder(protocol, tokenizer, 0, true, std::numeric_limits<size_t>::max());
    forEachLine(text, [&](std::string_view piece, bool ends) { return encoder.feed(piece, ends); });
    encoder.finish({});
    TokenStream stream;
    stream.protocol = protocol;
    stream.documents = encoder.documents();
    stream.tokens = encoder.takeTokens();
    return stream;
}

TokenStream readTokenStream(const std::filesystem::path& file, Protocol protocol,
                            const Tokenizer& tokenizer, const TextReadOptions& options,
                            const JobContext& job) {
    ProtocolEncoder encoder(protocol, tokenizer, options.maxTokens, true, options.partBytes);
    TokenStream stream;
    stream.protocol = protocol;
    stream.source = file.string();
    stream.wholeText = readTextLines(file, feedNaming(encoder, file), job, "tokenize");
    encoder.finish(stream.source);
    stream.documents = encoder.documents();
    stream.tokens = encoder.takeTokens();
    return stream;
}

int64_t countTokens(const std::filesystem::path& file, Protocol protocol,
                    const Tokenizer& tokenizer, const JobContext& job) {
    ProtocolEncoder encoder(protocol, tokenizer, 0, false, TextReadOptions{}.partBytes);
    readTextLines(file, feedNaming(encoder, file), job, "tokenize");
    encoder.finish(file.string());
    return encoder.count();
}

} // namespace rs
