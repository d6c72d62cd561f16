#include "tokenizer/bpe_tokenizer.h"

#include "tokenizer/bpe_merge.h"
#include "util/error.h"

#include <algorithm>
#include <array>

namespace rs::tok {

namespace {

const std::array<char32_t, 256> kByteToUnicode = [] {
    std::array<char32_t, 256> table{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        table[b] = printable ? char32_t(b) : next++;
    }
    return table;
}();

bool isAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string replaceAll(std::string_view text, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(text.size());
    size_t start = 0;
    for (size_t pos = text.find(from); !from.empty() && pos != std::string_view::npos;
         pos = text.find(from, start)) {
        out.append(text.substr(start, pos - start)).append(to);
        start = pos + from.size();
    }
    out.append(text.substr(start));
    return out;
}

class BpeTokenizer final : public Tokenizer {
public:
    explicit BpeTokenizer(BpeSpec spec);

    std::vector<int32_t> encode(std::string_view text) const override {
        return encodeText(text, false);
    }
    bool splitsAtWords() const override { return m_splitsAtWords; }
    std::vector<int32_t> encodeContinuation(std::string_view text) const override;
    std::string decode(std::span<const int32_t> ids) const override {
        return decodeStreaming(*this, ids);
    }
    std::string decodeNext(int32_t previous, int32_t id) const override;

    int32_t vocabSize() const override { return static_cast<int32_t>(m_pieces.size()); }
    std::optional<int32_t> bosId() const override { return m_spec.bos; }
    std::optional<int32_t> eosId() const override { return m_spec.eos; }
    std::string describe() const override {
        return m_spec.format +
               (m_spec.byteLevel ? " (byte-level BPE, " : " (SentencePiece-style BPE, ") +
               std::to_string(vocabSize()) + " tokens)";
    }
    std::optional<Vocabulary> vocabulary() const override;

private:
    using WordCache =
        std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>>;

    struct AddedMatch {
        size_t begin; // including swallowed whitespace
        size_t end;
        const AddedToken* token;
    };
    std::optional<AddedMatch> findAddedToken(std::string_view text, size_t from) const;
    bool canSplitAtWords() const;
    std::vector<int32_t> encodeText(std::string_view text, bool continuation) const;
    // Where a segment (text between added tokens) starts: a continuation's first segment goes on
    // the text before the cut, so it is neither the start nor prepended to.
    enum class SegmentStart { Text, AfterAddedToken, AfterCut };
    void encodeSegment(std::string_view segment, SegmentStart start, WordCache& cache,
                       std::vector<int32_t>& ids) const;
    std::vector<std::string> preTokenize(std::string text, bool atTextStart) const;
    void encodeWord(std::string_view word, WordCache& cache, std::vector<int32_t>& ids) const;
    std::vector<int32_t> bpeWord(std::string_view word) const;

    BpeSpec m_spec;
    std::vector<std::string> m_pieces; // id -> piece (added tokens: their content)
    std::vector<bool> m_isAdded;
    MergeTable m_merges;
    std::array<int32_t, 256> m_byteIds{}; // byte-level: the byte's character; else <0xNN> or -1
    std::optional<int32_t> m_unk;
    std::array<std::vector<const AddedToken*>, 256> m_addedByFirstByte; // longest first
    std::vector<int16_t> m_unicodeToByte; // byte-level decoding; -1 for no byte
    bool m_cutAtWords = false;            // see cutBeforeWordStarts()
    bool m_splitsAtWords = false;         // see Tokenizer::splitsAtWords()
};

// The name llama.cpp gives the split rules of these pre-tokenizers (its "tokenizer.ggml.pre"), for
// the byte-level families it implements; nullopt for any other.
std::optional<std::string> llamaCppPreTokenizer(const BpeSpec& spec) {
    using Kind = PreTokenizerStep::Kind;
    const auto& steps = spec.preTokenizers;
    if (!spec.byteLevel || spec.byteFallback || !spec.normalizers.empty() || steps.empty() ||
        steps.back().kind != Kind::ByteLevel || steps.back().addPrefixSpace)
        return std::nullopt;
    const bool regex = steps.back().useRegex;
    if (steps.size() == 1 && regex)
        return "gpt-2";
    if (steps.size() == 2 && regex && steps[0].kind == Kind::Digits && steps[0].individualDigits)
        return "smollm";
    if (steps.size() == 2 && !regex && steps[0].kind == Kind::Split &&
        steps[0].pattern.llama3Style) {
        if (steps[0].pattern.maxDigits == 3)
            return "llama-bpe";
        if (steps[0].pattern.maxDigits == 1)
            return "qwen2";
    }
    return std::nullopt;
}

std::optional<Vocabulary> BpeTokenizer::vocabulary() const {
    const auto pre = llamaCppPreTokenizer(m_spec);
    if (!pre)
        return std::nullopt;
    Vocabulary v;
    v.model = "gpt2";
    v.preTokenizer = *pre;
    v.addSpacePrefix = false;
    for (size_t id = 0; id < m_pieces.size(); ++id) {
        const bool unused = m_pieces[id].empty();
        v.pieces.push_back(unused ? "[PAD" + std::to_string(id) + "]" : m_pieces[id]);
        v.types.push_back(unused          ? Vocabulary::PieceType::Unused
                          : m_isAdded[id] ? Vocabulary::PieceType::Control
                                          : Vocabulary::PieceType::Normal);
    }
    for (const auto& [left, right] : m_spec.merges)
        v.merges.push_back(left + " " + right);
    return v;
}

BpeTokenizer::BpeTokenizer(BpeSpec spec)
    : m_spec(std::move(spec)) {
    const std::string& source = m_spec.source;
    int32_t size = 0;
    for (const auto& [piece, id] : m_spec.vocab) {
        if (id < 0) {
            fail(source, "vocabulary piece \"" + piece + "\" has a negative id");
        }
        size = std::max(size, id + 1);
    }
    for (const auto& token : m_spec.addedTokens) {
        if (token.id < 0 || token.content.empty()) {
            fail(source, "added token \"" + token.content + "\" has a negative id or no content");
        }
        size = std::max(size, token.id + 1);
    }
    if (size == 0) {
        fail(source, "the vocabulary is empty");
    }
    // The pieces are a table indexed by id: ids far beyond the number of tokens mean a corrupt
    // file, not a vocabulary with a few unused ids.
    const size_t defined = m_spec.vocab.size() + m_spec.addedTokens.size();
    if (static_cast<size_t>(size) > 2 * defined + 256) {
        fail(source, "token ids reach " + std::to_string(size - 1) + ", but only " +
                         std::to_string(defined) + " tokens are defined");
    }
    m_pieces.resize(size);
    m_isAdded.resize(size);
    for (const auto& [piece, id] : m_spec.vocab) {
        m_pieces[id] = piece;
    }
    for (const auto& token : m_spec.addedTokens) {
        m_pieces[token.id] = token.content;
        m_isAdded[token.id] = true;
        m_addedByFirstByte[static_cast<unsigned char>(token.content[0])].push_back(&token);
    }
    for (auto& candidates : m_addedByFirstByte) {
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](auto* a, auto* b) { return a->content.size() > b->content.size(); });
    }

    m_merges.reserve(m_spec.merges.size());
    for (size_t rank = 0; rank < m_spec.merges.size(); ++rank) {
        const auto& [left, right] = m_spec.merges[rank];
        const auto leftId = findPiece(m_spec.vocab, left);
        const auto rightId = findPiece(m_spec.vocab, right);
        const auto result = findPiece(m_spec.vocab, left + right);
        if (!leftId || !rightId || !result) {
            fail(source, "merge " + std::to_string(rank) + " (\"" + left + "\" \"" + right +
                             "\") uses or makes a piece that is not in the vocabulary");
        }
        m_merges.add(*leftId, *rightId, double(rank), *result);
    }

    m_byteIds.fill(-1);
    for (int b = 0; b < 256; ++b) {
        std::string piece;
        if (m_spec.byteLevel) {
            appendUtf8(piece, kByteToUnicode[b]);
        } else if (m_spec.byteFallback) {
            piece = byteFallbackPiece(static_cast<uint8_t>(b));
        }
        if (const auto id = findPiece(m_spec.vocab, piece)) {
            m_byteIds[b] = *id;
        } else if (m_spec.byteLevel) {
            fail(source, "byte-level vocabulary lacks the piece of byte " + std::to_string(b));
        }
    }
    if (m_spec.byteLevel) {
        m_unicodeToByte.assign(*std::max_element(kByteToUnicode.begin(), kByteToUnicode.end()) + 1,
                               -1);
        for (int b = 0; b < 256; ++b) {
            m_unicodeToByte[kByteToUnicode[b]] = static_cast<int16_t>(b);
        }
    }
    if (m_spec.unkToken) {
        m_unk = findPiece(m_spec.vocab, *m_spec.unkToken);
    }
    m_cutAtWords = !m_spec.byteLevel && !m_spec.ignoreMerges &&
                   std::none_of(m_spec.vocab.begin(), m_spec.vocab.end(), [](const auto& entry) {
                       return joinsAcrossMarker(entry.first, kMetaspace);
                   });
    m_splitsAtWords = canSplitAtWords();
}

std::optional<BpeTokenizer::AddedMatch> BpeTokenizer::findAddedToken(std::string_view text,
                                                                     size_t from) const {
    // Leftmost, then longest, as Hugging Face's matcher.
    for (size_t pos = from; pos < text.size(); ++pos) {
        for (const AddedToken* token : m_addedByFirstByte[static_cast<unsigned char>(text[pos])]) {
            if (text.substr(pos).starts_with(token->content)) {
                AddedMatch match{pos, pos + token->content.size(), token};
                if (token->lstrip) {
                    while (match.begin > from && isAsciiSpace(text[match.begin - 1])) {
                        --match.begin;
                    }
                }
                if (token->rstrip) {
                    while (match.end < text.size() && isAsciiSpace(text[match.end])) {
                        ++match.end;
                    }
                }
                return match;
            }
        }
    }
    return std::nullopt;
}

std::vector<int32_t> BpeTokenizer::encodeContinuation(std::string_view text) const {
    if (!m_splitsAtWords) {
        return Tokenizer::encodeContinuation(text);
    }
    return encodeText(text, true);
}

// A cut "one| two" leaves every piece as it is in the whole text when some step splits there
// (a split regex, Metaspace's split, or SentencePiece-style merges that never join words) and
// nothing reaches across it: no added token holding or swallowing that space, no replacement of a
// longer text with a space in it.
bool BpeTokenizer::canSplitAtWords() const {
    const auto isLetter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    for (const AddedToken& token : m_spec.addedTokens) {
        if (token.content.find(' ') != std::string::npos ||
            (token.rstrip && isLetter(token.content.back())) ||
            (token.lstrip && isLetter(token.content.front()))) {
            return false;
        }
    }
    for (const NormalizerStep& step : m_spec.normalizers) {
        if (step.kind == NormalizerStep::Kind::Replace && step.pattern != " " &&
            step.pattern.find(' ') != std::string::npos) {
            return false;
        }
    }
    using Kind = PreTokenizerStep::Kind;
    const bool preTokenizerSplits =
        std::any_of(m_spec.preTokenizers.begin(), m_spec.preTokenizers.end(), [](const auto& s) {
            return (s.kind == Kind::ByteLevel && s.useRegex) || s.kind == Kind::Split ||
                   (s.kind == Kind::Metaspace && s.split);
        });
    return preTokenizerSplits || m_cutAtWords;
}

std::vector<int32_t> BpeTokenizer::encodeText(std::string_view text, bool continuation) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3);
    // Documents repeat their words: remember each word's tokens for this call.
    WordCache cache;
    size_t pos = 0;
    while (pos < text.size()) {
        const auto match = findAddedToken(text, pos);
        const size_t segmentEnd = match ? match->begin : text.size();
        const SegmentStart start = pos > 0        ? SegmentStart::AfterAddedToken
                                   : continuation ? SegmentStart::AfterCut
                                                  : SegmentStart::Text;
        encodeSegment(text.substr(pos, segmentEnd - pos), start, cache, ids);
        if (!match) {
            break;
        }
        ids.push_back(match->token->id);
        pos = match->end;
    }
    return ids;
}

void BpeTokenizer::encodeSegment(std::string_view segment, SegmentStart start, WordCache& cache,
                                 std::vector<int32_t>& ids) const {
    if (segment.empty()) {
        return;
    }
    std::string text(segment);
    for (const auto& step : m_spec.normalizers) {
        switch (step.kind) {
        case NormalizerStep::Kind::Prepend:
            if (!text.empty() && start != SegmentStart::AfterCut) {
                text.insert(0, step.content);
            }
            break;
        case NormalizerStep::Kind::Replace:
            text = replaceAll(text, step.pattern, step.content);
            break;
        case NormalizerStep::Kind::Unicode:
            text = normalizeUnicode(text, step.form);
            break;
        }
    }
    for (const std::string& word : preTokenize(std::move(text), start == SegmentStart::Text)) {
        encodeWord(word, cache, ids);
    }
}

std::vector<std::string> BpeTokenizer::preTokenize(std::string text, bool atTextStart) const {
    std::vector<std::string> pieces;
    pieces.push_back(std::move(text));
    std::vector<std::string_view> cuts;
    for (const auto& step : m_spec.preTokenizers) {
        std::vector<std::string> next;
        next.reserve(pieces.size());
        for (size_t i = 0; i < pieces.size(); ++i) {
            std::string& piece = pieces[i];
            cuts.clear();
            switch (step.kind) {
            case PreTokenizerStep::Kind::ByteLevel:
                if (step.addPrefixSpace && !piece.starts_with(' ')) {
                    piece.insert(0, " ");
                }
                if (step.useRegex) {
                    splitByPattern(piece, gpt2SplitPattern(), cuts);
                } else {
                    cuts.push_back(piece);
                }
                break;
            case PreTokenizerStep::Kind::Split:
                splitByPattern(piece, step.pattern, cuts);
                break;
            case PreTokenizerStep::Kind::Digits:
                splitDigits(piece, step.individualDigits, cuts);
                break;
            case PreTokenizerStep::Kind::Metaspace: {
                piece = replaceAll(piece, " ", step.replacement);
                const bool prepend =
                    step.prepend == PreTokenizerStep::Prepend::Always ||
                    (step.prepend == PreTokenizerStep::Prepend::First && atTextStart && i == 0);
                if (prepend && !piece.starts_with(step.replacement)) {
                    piece.insert(0, step.replacement);
                }
                if (step.split) {
                    splitBeforeMarker(piece, step.replacement, cuts);
                } else {
                    cuts.push_back(piece);
                }
                break;
            }
            }
            for (const std::string_view cut : cuts) {
                if (!cut.empty()) {
                    next.emplace_back(cut);
                }
            }
        }
        pieces = std::move(next);
    }
    return pieces;
}

void BpeTokenizer::encodeWord(std::string_view word, WordCache& cache,
                              std::vector<int32_t>& ids) const {
    if (word.empty()) {
        return;
    }
    if (m_cutAtWords) {
        std::vector<std::string_view> parts;
        cutBeforeWordStarts(word, kMetaspace, parts);
        if (parts.size() > 1) {
            for (const std::string_view part : parts) {
                encodeWord(part, cache, ids);
            }
            return;
        }
    }
    auto it = cache.find(word);
    if (it == cache.end()) {
        it = cache.emplace(std::string(word), bpeWord(word)).first;
    }
    ids.insert(ids.end(), it->second.begin(), it->second.end());
}

std::vector<int32_t> BpeTokenizer::bpeWord(std::string_view word) const {
    std::vector<int32_t> symbols;
    symbols.reserve(word.size());
    if (m_spec.byteLevel) {
        if (m_spec.ignoreMerges) {
            std::string mapped;
            for (const char c : word) {
                appendUtf8(mapped, kByteToUnicode[static_cast<unsigned char>(c)]);
            }
            if (const auto id = findPiece(m_spec.vocab, mapped)) {
                return {*id};
            }
        }
        for (const char c : word) {
            symbols.push_back(m_byteIds[static_cast<unsigned char>(c)]);
        }
    } else {
        if (m_spec.ignoreMerges) {
            if (const auto id = findPiece(m_spec.vocab, word)) {
                return {*id};
            }
        }
        bool previousWasUnk = false;
        for (size_t pos = 0; pos < word.size();) {
            const size_t length = decodeUtf8(word, pos).length;
            const std::string_view character = word.substr(pos, length);
            pos += length;
            if (const auto id = findPiece(m_spec.vocab, character)) {
                symbols.push_back(*id);
                previousWasUnk = false;
                continue;
            }
            if (m_spec.byteFallback && std::all_of(character.begin(), character.end(), [&](char c) {
                    return m_byteIds[static_cast<unsigned char>(c)] >= 0;
                })) {
                for (const char c : character) {
                    symbols.push_back(m_byteIds[static_cast<unsigned char>(c)]);
                }
                previousWasUnk = false;
                continue;
            }
            if (!m_unk) {
                fail(m_spec.source, "cannot encode \"" + std::string(character) +
                                        "\": not in the vocabulary and there is no unk token");
            }
            if (!(m_spec.fuseUnk && previousWasUnk)) {
                symbols.push_back(*m_unk);
            }
            previousWasUnk = true;
        }
    }
    applyMerges(symbols, m_merges);
    return symbols;
}

std::string BpeTokenizer::decodeNext(int32_t previous, int32_t id) const {
    checkTokenId(m_spec.source, id, vocabSize());
    if (id == m_spec.bos || id == m_spec.eos) {
        return {};
    }
    const std::string& piece = m_pieces[id];
    if (m_isAdded[id]) {
        return piece;
    }
    if (m_spec.byteLevel) {
        std::string bytes;
        for (size_t pos = 0; pos < piece.size();) {
            const Utf8Char c = decodeUtf8(piece, pos);
            pos += c.length;
            if (c.codePoint >= m_unicodeToByte.size() || m_unicodeToByte[c.codePoint] < 0) {
                return piece; // not a byte-level piece: Hugging Face shows it as it is
            }
            bytes += static_cast<char>(m_unicodeToByte[c.codePoint]);
        }
        return bytes;
    }
    if (m_spec.byteFallback) {
        if (const auto byte = parseByteFallbackPiece(piece)) {
            return std::string(1, static_cast<char>(*byte));
        }
    }
    std::string text = replaceAll(piece, kMetaspace, " ");
    const bool atStart = previous == kStart || (m_spec.bos && previous == *m_spec.bos);
    if (m_spec.stripLeadingSpace && atStart && text.starts_with(' ')) {
        text.erase(0, 1);
    }
    return text;
}

} // namespace

char32_t byteToUnicode(uint8_t byte) {
    return kByteToUnicode[byte];
}

std::unique_ptr<Tokenizer> makeBpeTokenizer(BpeSpec spec) {
    return std::make_unique<BpeTokenizer>(std::move(spec));
}

} // namespace rs::tok
