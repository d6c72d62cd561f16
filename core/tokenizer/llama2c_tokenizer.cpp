// llama2.c's tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length,
// bytes. The exporter already replaced SentencePiece's U+2581 by a plain space in every piece.
#include "tokenizer/bpe_merge.h"
#include "tokenizer/pieces.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <algorithm>
#include <cstring>

namespace rs {

namespace {

constexpr int32_t kBos = 1;
constexpr int32_t kEos = 2;
constexpr int32_t kFirstByteToken = 3; // ids 3..258 are <0x00>..<0xFF>
constexpr int32_t kMinVocab = kFirstByteToken + 256;

class Llama2cTokenizer final : public Tokenizer {
public:
    Llama2cTokenizer(std::string source, std::vector<std::string> pieces, std::vector<float> scores)
        : m_source(std::move(source))
        , m_name(std::filesystem::path(m_source).filename().string())
        , m_pieces(std::move(pieces))
        , m_scores(std::move(scores)) {
        m_ids.reserve(m_pieces.size());
        for (size_t id = 0; id < m_pieces.size(); ++id) {
            m_ids.emplace(m_pieces[id], static_cast<int32_t>(id)); // the first of duplicates wins
        }
        // llama2.c merges any adjacent pair whose concatenation is a piece, best score first:
        // list every such pair once, from every way of cutting every piece in two.
        m_merges.reserve(m_pieces.size() * 4);
        for (size_t id = 0; id < m_pieces.size(); ++id) {
            const std::string_view piece = m_pieces[id];
            if (m_ids.at(m_pieces[id]) != static_cast<int32_t>(id)) {
                continue;
            }
            for (size_t cut = 1; cut < piece.size(); ++cut) {
                const auto left = tok::findPiece(m_ids, piece.substr(0, cut));
                const auto right = tok::findPiece(m_ids, piece.substr(cut));
                if (left && right) {
                    m_merges.add(*left, *right, -double(m_scores[id]), static_cast<int32_t>(id));
                }
            }
        }
        m_dummyPrefix = tok::findPiece(m_ids, " ");
        m_cutAtWords = std::none_of(m_pieces.begin(), m_pieces.end(), [](const std::string& p) {
            return tok::joinsAcrossMarker(p, " ");
        });
    }

    std::vector<int32_t> encode(std::string_view text) const override {
        if (text.empty()) {
            return {};
        }
        // llama2.c looks the dummy prefix up and would use -1 when a vocabulary has no " ";
        // leaving it out is the only sensible reading there. Looked up as a character, " " gives
        // the same id, so the prefix can simply go in front of the text.
        const std::string prefixed = (m_dummyPrefix ? " " : "") + std::string(text);
        if (!m_cutAtWords) {
            return encodeWords(prefixed);
        }
        return encodeByWord(prefixed);
    }

    bool splitsAtWords() const override { return m_cutAtWords; }

    std::vector<int32_t> encodeContinuation(std::string_view text) const override {
        if (!m_cutAtWords) {
            return Tokenizer::encodeContinuation(text);
        }
        return encodeByWord(text);
    }

    std::string decode(std::span<const int32_t> ids) const override {
        return tok::decodeStreaming(*this, ids);
    }

    std::string decodeNext(int32_t previous, int32_t id) const override {
        tok::checkTokenId(m_source, id, vocabSize());
        if (id == kBos || id == kEos) {
            return {};
        }
        if (id >= kFirstByteToken && id < kMinVocab) {
            return std::string(1, static_cast<char>(id - kFirstByteToken));
        }
        std::string_view piece = m_pieces[id];
        if ((previous == kBos || previous == kStart) && piece.starts_with(' ')) {
            piece.remove_prefix(1);
        }
        return std::string(piece);
    }

    int32_t vocabSize() const override { return static_cast<int32_t>(m_pieces.size()); }
    std::optional<int32_t> bosId() const override { return kBos; }
    std::optional<int32_t> eosId() const override { return kEos; }
    std::string describe() const override {
        return m_name + " (llama2.c, " + std::to_string(m_pieces.size()) + " tokens)";
    }

    // llama2.c's exporter wrote "\n<s>\n"-style texts for ids 0-2 and replaced U+2581 by a
    // space; the SentencePiece spelling is restored here.
    std::optional<Vocabulary> vocabulary() const override {
        using Type = Vocabulary::PieceType;
        Vocabulary v;
        v.unknownId = 0;
        v.scores = m_scores;
        for (size_t id = 0; id < m_pieces.size(); ++id) {
            const std::string& piece = m_pieces[id];
            if (id < kFirstByteToken) {
                v.pieces.push_back(id == 0 ? "<unk>" : id == kBos ? "<s>" : "</s>");
                v.types.push_back(id == 0 ? Type::Unknown : Type::Control);
            } else if (tok::parseByteFallbackPiece(piece)) {
                v.pieces.push_back(piece);
                v.types.push_back(Type::Byte);
            } else {
                std::string spelled;
                for (char c : piece)
                    spelled += c == ' ' ? std::string(tok::kMetaspace) : std::string(1, c);
                v.pieces.push_back(std::move(spelled));
                v.types.push_back(Type::Normal);
            }
        }
        v.addSpacePrefix = m_dummyPrefix.has_value();
        return v;
    }

private:
    // Encodes each word (cut before every space that follows other text) once per call.
    std::vector<int32_t> encodeByWord(std::string_view text) const {
        return tok::encodeWordByWord(text, " ",
                                     [this](std::string_view w) { return encodeWords(w); });
    }

    std::vector<int32_t> encodeWords(std::string_view text) const {
        std::vector<int32_t> symbols;
        symbols.reserve(text.size());
        // Characters as llama2.c cuts them: a byte and up to three continuation bytes after it.
        for (size_t pos = 0; pos < text.size();) {
            size_t length = 1;
            while (length < 4 && pos + length < text.size() &&
                   (static_cast<unsigned char>(text[pos + length]) & 0xC0) == 0x80) {
                ++length;
            }
            if (const auto id = tok::findPiece(m_ids, text.substr(pos, length))) {
                symbols.push_back(*id);
            } else {
                for (size_t i = 0; i < length; ++i) {
                    symbols.push_back(kFirstByteToken + static_cast<unsigned char>(text[pos + i]));
                }
            }
            pos += length;
        }
        tok::applyMerges(symbols, m_merges);
        return symbols;
    }

    std::string m_source;
    std::string m_name;
    std::vector<std::string> m_pieces;
    std::vector<float> m_scores;
    tok::PieceIds m_ids;
    tok::MergeTable m_merges;
    std::optional<int32_t> m_dummyPrefix;
    bool m_cutAtWords = false; // see cutBeforeWordStarts()
};

template <typename T> T readScalar(const std::string& bytes, size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

} // namespace

std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::filesystem::path& file,
                                                std::optional<int32_t> expectedVocabSize) {
    const std::string source = file.string();
    const std::string bytes = tok::readBinaryFile(file);
    if (bytes.size() < 4) {
        fail(source,
             "too short for a llama2.c tokenizer (" + std::to_string(bytes.size()) + " bytes)");
    }
    const auto maxTokenLength = readScalar<int32_t>(bytes, 0);
    if (maxTokenLength <= 0 || maxTokenLength > (1 << 16)) {
        fail(source, "max_token_length " + std::to_string(maxTokenLength) +
                         " is implausible; not a llama2.c tokenizer");
    }
    std::vector<std::string> pieces;
    std::vector<float> scores;
    size_t offset = 4;
    const auto wanted = expectedVocabSize.value_or(INT32_MAX);
    while (offset < bytes.size() && static_cast<int32_t>(pieces.size()) < wanted) {
        const std::string where =
            "token " + std::to_string(pieces.size()) + " at offset " + std::to_string(offset);
        if (bytes.size() - offset < 8) {
            fail(source, "truncated: " + where + " needs an 8-byte header, the file ends after " +
                             std::to_string(bytes.size() - offset));
        }
        const auto score = readScalar<float>(bytes, offset);
        const auto length = readScalar<int32_t>(bytes, offset + 4);
        offset += 8;
        if (length < 0 || static_cast<size_t>(length) > bytes.size() - offset) {
            fail(source, "truncated: " + where + " declares " + std::to_string(length) +
                             " bytes, the file ends after " +
                             std::to_string(bytes.size() - offset));
        }
        pieces.emplace_back(bytes, offset, length);
        scores.push_back(score);
        offset += length;
    }
    if (expectedVocabSize && static_cast<int32_t>(pieces.size()) < *expectedVocabSize) {
        fail(source, "truncated: it holds " + std::to_string(pieces.size()) +
                         " tokens, the model's vocab_size is " +
                         std::to_string(*expectedVocabSize));
    }
    if (pieces.size() < static_cast<size_t>(kMinVocab)) {
        fail(source, "holds only " + std::to_string(pieces.size()) +
                         " tokens; llama2.c needs <unk>, <s>, </s> and the 256 byte tokens first");
    }
    for (int byte = 0; byte < 256; ++byte) {
        const auto& piece = pieces[kFirstByteToken + byte];
        if (tok::parseByteFallbackPiece(piece) != byte) {
            fail(source, "token " + std::to_string(kFirstByteToken + byte) + " is \"" + piece +
                             "\", expected the byte token " +
                             tok::byteFallbackPiece(static_cast<uint8_t>(byte)));
        }
    }
    return std::make_unique<Llama2cTokenizer>(source, std::move(pieces), std::move(scores));
}

} // namespace rs
