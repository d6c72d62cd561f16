#pragma once

#include "tokenizer/pieces.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// A Hugging Face BPE tokenizer as data (filled from tokenizer.json, or from GPT-2's vocab.json +
// merges.txt) and the tokenizer built from it. Internal to core/tokenizer.
namespace rs::tok {

// Tokens matched verbatim in the text before anything else (special tokens and added tokens).
struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool lstrip = false; // swallows the whitespace before it
    bool rstrip = false; // swallows the whitespace after it
};

struct NormalizerStep {
    enum class Kind { Prepend, Replace, Unicode };
    Kind kind = Kind::Prepend;
    std::string pattern; // Replace: the literal text replaced
    std::string content; // Prepend: the prefix; Replace: the replacement
    NormalForm form = NormalForm::Nfc;
};

struct PreTokenizerStep {
    enum class Kind { ByteLevel, Split, Digits, Metaspace };
    enum class Prepend { Always, First, Never };
    Kind kind = Kind::ByteLevel;
    bool addPrefixSpace = false;         // ByteLevel
    bool useRegex = true;                // ByteLevel: split with the GPT-2 pattern first
    SplitPattern pattern;                // Split
    bool individualDigits = false;       // Digits
    std::string replacement{kMetaspace}; // Metaspace
    Prepend prepend = Prepend::Always;   // Metaspace
    bool split = true;                   // Metaspace: every replacement starts a new piece
};

struct BpeSpec {
    std::string source; // the file, for error messages
    std::string format; // for describe(), e.g. "tokenizer.json"
    bool byteLevel = false;
    PieceIds vocab;
    std::vector<std::pair<std::string, std::string>> merges; // in rank order
    bool byteFallback = false;
    bool ignoreMerges = false; // a piece already in the vocabulary is not split (Llama 3)
    bool fuseUnk = false;
    std::optional<std::string> unkToken;
    std::vector<AddedToken> addedTokens;
    std::vector<NormalizerStep> normalizers;
    std::vector<PreTokenizerStep> preTokenizers;
    bool stripLeadingSpace = false; // the decoder drops the first token's leading space
    std::optional<int32_t> bos;
    std::optional<int32_t> eos;
};

// Validates the spec (every merge and its result in the vocabulary, byte pieces present) and
// fails naming spec.source when it does not hold together.
std::unique_ptr<Tokenizer> makeBpeTokenizer(BpeSpec spec);

// GPT-2's reversible map from bytes to printable characters, used by byte-level vocabularies.
char32_t byteToUnicode(uint8_t byte);

} // namespace rs::tok
