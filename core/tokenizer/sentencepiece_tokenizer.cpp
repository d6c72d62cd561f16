// SentencePiece .model files, read and run here rather than through libsentencepiece: Debian's
// libsentencepiece carries its own protobuf 3.14 runtime, which cannot share a process with the
// libprotobuf that LibTorch loads (the process aborts or crashes when a model is loaded). The model
// is a small protobuf; BPE models (the Llama family) encode with the same merge loop as llama2.c.
#include "tokenizer/bpe_merge.h"
#include "tokenizer/pieces.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace rs {

namespace {

// The ModelProto fields this reader uses (sentencepiece_model.proto).
using PieceType = Vocabulary::PieceType; // ModelProto.SentencePiece.Type
constexpr uint64_t kModelTypeBpe = 2;

struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::Normal;
};

struct ModelSpec {
    std::vector<Piece> pieces;
    uint64_t modelType = 1; // UNIGRAM unless stated
    bool byteFallback = false;
    bool treatWhitespaceAsSuffix = false;
    int32_t unkId = 0;
    int32_t bosId = 1;
    int32_t eosId = 2;
    std::string unkSurface = " \xE2\x81\x87 ";
    std::string normalizerName;
    bool hasCharsMap = false;
    bool addDummyPrefix = true;
    bool removeExtraWhitespaces = true;
    bool escapeWhitespaces = true;
};

// Protobuf wire format, just enough for ModelProto: varints, 32-bit floats, nested messages.
class ProtoReader {
public:
    ProtoReader(std::string_view data, const std::string& source)
        : m_data(data)
        , m_source(source) {}

    struct Field {
        uint32_t number = 0;
        uint64_t varint = 0;    // wire type 0
        uint32_t fixed32 = 0;   // wire type 5
        std::string_view bytes; // wire type 2
    };

    bool next(Field& field) {
        if (m_pos >= m_data.size()) {
            return false;
        }
        const size_t start = m_pos;
        const uint64_t key = varint();
        field = Field{};
        field.number = static_cast<uint32_t>(key >> 3);
        switch (key & 7) {
        case 0:
            field.varint = varint();
            break;
        case 1:
            need(8, start);
            m_pos += 8;
            break;
        case 2: {
            const uint64_t length = varint();
            need(length, start);
            field.bytes = m_data.substr(m_pos, length);
            m_pos += length;
            break;
        }
        case 5:
            need(4, start);
            std::memcpy(&field.fixed32, m_data.data() + m_pos, 4);
            m_pos += 4;
            break;
        default:
            malformed(start);
        }
        return true;
    }

private:
    uint64_t varint() {
        const size_t start = m_pos;
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            need(1, start);
            const auto byte = static_cast<unsigned char>(m_data[m_pos++]);
            value |= uint64_t(byte & 0x7F) << shift;
            if (byte < 0x80) {
                return value;
            }
        }
        malformed(start);
    }
    void need(uint64_t bytes, size_t start) const {
        if (bytes > m_data.size() - m_pos) {
            malformed(start);
        }
    }
    [[noreturn]] void malformed(size_t offset) const {
        fail(m_source, "not a SentencePiece model: malformed or truncated protobuf near byte " +
                           std::to_string(offset));
    }

    std::string_view m_data;
    const std::string& m_source;
    size_t m_pos = 0;
};

float asFloat(uint32_t bits) {
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

ModelSpec parseModel(std::string_view data, const std::string& source) {
    ModelSpec spec;
    ProtoReader model(data, source);
    ProtoReader::Field field;
    while (model.next(field)) {
        if (field.number == 1) { // pieces
            Piece piece;
            ProtoReader reader(field.bytes, source);
            for (ProtoReader::Field f; reader.next(f);) {
                if (f.number == 1) {
                    piece.text = f.bytes;
                } else if (f.number == 2) {
                    piece.score = asFloat(f.fixed32);
                } else if (f.number == 3) {
                    piece.type = static_cast<PieceType>(f.varint);
                }
            }
            spec.pieces.push_back(std::move(piece));
        } else if (field.number == 2) { // trainer_spec
            ProtoReader reader(field.bytes, source);
            for (ProtoReader::Field f; reader.next(f);) {
                switch (f.number) {
                case 3:
                    spec.modelType = f.varint;
                    break;
                case 24:
                    spec.treatWhitespaceAsSuffix = f.varint != 0;
                    break;
                case 35:
                    spec.byteFallback = f.varint != 0;
                    break;
                case 40:
                    spec.unkId = static_cast<int32_t>(f.varint);
                    break;
                case 41:
                    spec.bosId = static_cast<int32_t>(f.varint);
                    break;
                case 42:
                    spec.eosId = static_cast<int32_t>(f.varint);
                    break;
                case 44:
                    spec.unkSurface = f.bytes;
                    break;
                default:
                    break;
                }
            }
        } else if (field.number == 3) { // normalizer_spec
            ProtoReader reader(field.bytes, source);
            for (ProtoReader::Field f; reader.next(f);) {
                switch (f.number) {
                case 1:
                    spec.normalizerName = f.bytes;
                    break;
                case 2:
                    spec.hasCharsMap = !f.bytes.empty();
                    break;
                case 3:
                    spec.addDummyPrefix = f.varint != 0;
                    break;
                case 4:
                    spec.removeExtraWhitespaces = f.varint != 0;
                    break;
                case 5:
                    spec.escapeWhitespaces = f.varint != 0;
                    break;
                default:
                    break;
                }
            }
        }
    }
    return spec;
}

class SentencePieceTokenizer final : public Tokenizer {
public:
    SentencePieceTokenizer(const std::filesystem::path& file, ModelSpec spec);

    std::vector<int32_t> encode(std::string_view text) const override;
    bool splitsAtWords() const override { return m_splitsAtWords; }
    std::vector<int32_t> encodeContinuation(std::string_view text) const override;
    std::string decode(std::span<const int32_t> ids) const override {
        return tok::decodeStreaming(*this, ids);
    }
    std::string decodeNext(int32_t previous, int32_t id) const override;

    int32_t vocabSize() const override { return static_cast<int32_t>(m_spec.pieces.size()); }
    std::optional<int32_t> bosId() const override { return optionalId(m_spec.bosId); }
    std::optional<int32_t> eosId() const override { return optionalId(m_spec.eosId); }
    std::string describe() const override {
        return m_name + " (SentencePiece BPE, " + std::to_string(vocabSize()) + " pieces)";
    }
    std::optional<Vocabulary> vocabulary() const override {
        Vocabulary v;
        for (const Piece& p : m_spec.pieces) {
            v.pieces.push_back(p.text);
            v.scores.push_back(p.score);
            v.types.push_back(p.type);
        }
        v.unknownId = optionalId(m_spec.unkId);
        v.addSpacePrefix = m_spec.addDummyPrefix;
        return v;
    }

private:
    std::optional<int32_t> optionalId(int32_t id) const {
        return id >= 0 && id < vocabSize() ? std::optional<int32_t>(id) : std::nullopt;
    }
    // A continuation follows other text: no dummy prefix, its leading spaces are kept.
    std::string normalize(std::string_view text, bool continuation) const;
    std::vector<int32_t> encodeByWord(const std::string& normalized) const;
    std::vector<int32_t> encodeNormalized(std::string_view normalized) const;
    size_t userDefinedPrefix(std::string_view text) const;
    PieceType type(int32_t id) const { return m_spec.pieces[id].type; }

    std::string m_source;
    std::string m_name;
    ModelSpec m_spec;
    tok::PieceIds m_mergeable; // what SentencePiece's BPE may produce: normal, user-defined, unused
    tok::PieceIds m_reserved;  // control, unknown and byte pieces
    std::vector<std::string_view> m_userDefined;
    std::array<int32_t, 256> m_byteIds{};
    tok::MergeTable m_merges;
    bool m_cutAtWords = false; // see cutBeforeWordStarts()
    bool m_splitsAtWords = false;
};

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& file, ModelSpec spec)
    : m_source(file.string())
    , m_name(file.filename().string())
    , m_spec(std::move(spec)) {
    if (m_spec.pieces.empty()) {
        fail(m_source, "not a SentencePiece model: it has no pieces");
    }
    if (m_spec.modelType != kModelTypeBpe) {
        fail(m_source, "SentencePiece model type " + std::to_string(m_spec.modelType) +
                           " is not supported (only BPE, type 2; 1 is unigram)");
    }
    if (m_spec.hasCharsMap) {
        fail(m_source, "SentencePiece normalization \"" + m_spec.normalizerName +
                           "\" uses a precompiled character map, which is not supported");
    }
    if (m_spec.treatWhitespaceAsSuffix) {
        fail(m_source, "SentencePiece treat_whitespace_as_suffix is not supported");
    }
    for (size_t id = 0; id < m_spec.pieces.size(); ++id) {
        const Piece& piece = m_spec.pieces[id];
        const bool mergeable = piece.type == PieceType::Normal ||
                               piece.type == PieceType::UserDefined ||
                               piece.type == PieceType::Unused;
        if (piece.text.empty() ||
            !(mergeable ? m_mergeable : m_reserved).emplace(piece.text, int32_t(id)).second) {
            fail(m_source, "piece " + std::to_string(id) + " (\"" + piece.text +
                               "\") is empty or defined twice");
        }
        if (piece.type == PieceType::UserDefined) {
            m_userDefined.push_back(piece.text);
        }
    }
    if (m_spec.unkId < 0 || m_spec.unkId >= vocabSize() ||
        type(m_spec.unkId) != PieceType::Unknown) {
        fail(m_source, "unk_id " + std::to_string(m_spec.unkId) + " is not an unknown piece");
    }
    for (int b = 0; b < 256; ++b) {
        const auto id = tok::findPiece(m_reserved, tok::byteFallbackPiece(static_cast<uint8_t>(b)));
        m_byteIds[b] = id && type(*id) == PieceType::Byte ? *id : m_spec.unkId;
    }
    m_cutAtWords = m_spec.escapeWhitespaces;
    // Every pair of pieces whose concatenation is a piece, with that piece's score. User-defined
    // symbols are frozen (never merged on either side); merges into unused pieces would be
    // re-split by SentencePiece, so they are left out.
    for (size_t id = 0; id < m_spec.pieces.size(); ++id) {
        const Piece& piece = m_spec.pieces[id];
        if (piece.type != PieceType::Normal && piece.type != PieceType::UserDefined) {
            continue;
        }
        const std::string_view text = piece.text;
        for (size_t cut = 1; cut < text.size(); ++cut) {
            const auto left = tok::findPiece(m_mergeable, text.substr(0, cut));
            const auto right = tok::findPiece(m_mergeable, text.substr(cut));
            if (left && right && type(*left) != PieceType::UserDefined &&
                type(*right) != PieceType::UserDefined) {
                m_merges.add(*left, *right, -double(piece.score), static_cast<int32_t>(id));
            }
        }
        if (tok::joinsAcrossMarker(text, tok::kMetaspace)) {
            m_cutAtWords = false;
        }
    }
    // A user-defined symbol holding a space could straddle a cut before a word.
    m_splitsAtWords =
        m_cutAtWords && std::none_of(m_userDefined.begin(), m_userDefined.end(), [](auto symbol) {
            return symbol.find(' ') != std::string_view::npos ||
                   symbol.find(tok::kMetaspace) != std::string_view::npos;
        });
}

size_t SentencePieceTokenizer::userDefinedPrefix(std::string_view text) const {
    size_t longest = 0;
    for (const std::string_view symbol : m_userDefined) {
        if (symbol.size() > longest && text.starts_with(symbol)) {
            longest = symbol.size();
        }
    }
    return longest;
}

// SentencePiece's Normalizer for the identity rule: malformed UTF-8 becomes U+FFFD, spaces become
// U+2581, a dummy prefix goes in front, and extra spaces go when remove_extra_whitespaces is set.
std::string SentencePieceTokenizer::normalize(std::string_view text, bool continuation) const {
    const std::string_view space = m_spec.escapeWhitespaces ? tok::kMetaspace : " ";
    size_t pos = 0;
    if (m_spec.removeExtraWhitespaces && !continuation) {
        while (pos < text.size() && text[pos] == ' ') {
            ++pos;
        }
    }
    std::string out;
    if (pos == text.size()) {
        return out;
    }
    out.reserve(text.size() * 3 / 2);
    if (m_spec.addDummyPrefix && !continuation) {
        out += space;
    }
    bool previousWasSpace = m_spec.removeExtraWhitespaces && !continuation;
    while (pos < text.size()) {
        std::string_view unit;
        if (const size_t length = userDefinedPrefix(text.substr(pos))) {
            unit = text.substr(pos, length);
            pos += length;
        } else {
            const tok::Utf8Char c = tok::decodeUtf8(text, pos);
            const bool malformed = c.codePoint == 0xFFFD && c.length == 1;
            unit = malformed ? std::string_view("\xEF\xBF\xBD") : text.substr(pos, c.length);
            pos += c.length;
        }
        while (previousWasSpace && unit.starts_with(' ')) {
            unit.remove_prefix(1);
        }
        if (!unit.empty()) {
            for (const char c : unit) {
                if (c == ' ') {
                    out += space;
                } else {
                    out += c;
                }
            }
            previousWasSpace = unit.ends_with(' ');
        }
        if (!m_spec.removeExtraWhitespaces) {
            previousWasSpace = false;
        }
    }
    if (m_spec.removeExtraWhitespaces) {
        while (out.ends_with(space)) {
            out.resize(out.size() - space.size());
        }
    }
    return out;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
    const std::string normalized = normalize(text, false);
    if (!m_cutAtWords) {
        return encodeNormalized(normalized);
    }
    return encodeByWord(normalized);
}

std::vector<int32_t> SentencePieceTokenizer::encodeContinuation(std::string_view text) const {
    if (!m_splitsAtWords) {
        return Tokenizer::encodeContinuation(text);
    }
    return encodeByWord(normalize(text, true));
}

std::vector<int32_t> SentencePieceTokenizer::encodeByWord(const std::string& normalized) const {
    return tok::encodeWordByWord(normalized, tok::kMetaspace,
                                 [this](std::string_view w) { return encodeNormalized(w); });
}

std::vector<int32_t> SentencePieceTokenizer::encodeNormalized(std::string_view normalized) const {
    // Symbols: user-defined pieces whole, else single characters. A character that is no piece
    // gets a negative placeholder (no merge rule matches it) and falls back to bytes afterwards.
    std::vector<int32_t> symbols;
    std::vector<std::string_view> unknown;
    symbols.reserve(normalized.size());
    for (size_t pos = 0; pos < normalized.size();) {
        size_t length = userDefinedPrefix(normalized.substr(pos));
        if (length == 0) {
            const auto lead = static_cast<unsigned char>(normalized[pos]);
            length = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            length = std::min(length, normalized.size() - pos);
        }
        const std::string_view unit = normalized.substr(pos, length);
        if (const auto id = tok::findPiece(m_mergeable, unit)) {
            symbols.push_back(*id);
        } else {
            symbols.push_back(-2 - static_cast<int32_t>(unknown.size()));
            unknown.push_back(unit);
        }
        pos += length;
    }
    tok::applyMerges(symbols, m_merges);
    if (unknown.empty()) {
        return symbols;
    }
    std::vector<int32_t> ids;
    ids.reserve(symbols.size() + 3 * unknown.size());
    for (const int32_t symbol : symbols) {
        if (symbol >= 0) {
            ids.push_back(symbol);
        } else if (m_spec.byteFallback) {
            for (const char c : unknown[-2 - symbol]) {
                ids.push_back(m_byteIds[static_cast<unsigned char>(c)]);
            }
        } else {
            ids.push_back(m_spec.unkId);
        }
    }
    return ids;
}

// As SentencePieceProcessor::Decode: control pieces are invisible, <unk> shows as " ⁇ ", byte
// pieces are raw bytes, U+2581 is a space, and the first piece loses the dummy prefix.
std::string SentencePieceTokenizer::decodeNext(int32_t previous, int32_t id) const {
    tok::checkTokenId(m_source, id, vocabSize());
    const Piece& piece = m_spec.pieces[id];
    switch (piece.type) {
    case PieceType::Control:
        return {};
    case PieceType::Unknown:
        return m_spec.unkSurface;
    case PieceType::Byte:
        if (const auto byte = tok::parseByteFallbackPiece(piece.text)) {
            return std::string(1, static_cast<char>(*byte));
        }
        break;
    default:
        break;
    }
    std::string_view text = piece.text;
    const bool atStart = previous == kStart || previous == m_spec.bosId;
    if (atStart && (m_spec.addDummyPrefix || m_spec.removeExtraWhitespaces) &&
        text.starts_with(tok::kMetaspace)) {
        text.remove_prefix(tok::kMetaspace.size());
    }
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        if (text.substr(pos).starts_with(tok::kMetaspace)) {
            out += ' ';
            pos += tok::kMetaspace.size();
        } else {
            out += text[pos++];
        }
    }
    return out;
}

} // namespace

std::unique_ptr<Tokenizer> loadSentencePieceModel(const std::filesystem::path& file) {
    const std::string source = file.string();
    const std::string data = tok::readBinaryFile(file);
    return std::make_unique<SentencePieceTokenizer>(file, parseModel(data, source));
}

} // namespace rs
