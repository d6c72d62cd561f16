#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

// A vocabulary as llama.cpp's tokenizers read it from a GGUF file. "llama" (SentencePiece-style):
// every piece with U+2581 standing for a space, its merge score and its SentencePiece type.
// "gpt2" (byte-level BPE): the pieces as the vocabulary spells them, the merges in rank order and
// the name llama.cpp gives the pre-tokenizer's split rules; no scores.
struct Vocabulary {
    enum class PieceType : int32_t {
        Normal = 1,
        Unknown = 2,
        Control = 3,
        UserDefined = 4,
        Unused = 5,
        Byte = 6
    };
    std::string model = "llama"; // or "gpt2"
    std::vector<std::string> pieces;
    std::vector<float> scores; // "llama" only
    std::vector<PieceType> types;
    std::vector<std::string> merges; // "gpt2": "left right", best first
    std::string preTokenizer;        // "gpt2": "gpt-2", "llama-bpe", "qwen2" or "smollm"
    std::optional<int32_t> unknownId;
    bool addSpacePrefix = true; // a space is put before the text (SentencePiece's dummy prefix)
};

// One interface over every tokenizer format RankScope reads. encode() never adds BOS/EOS: the
// evaluation protocols decide where those go. tokenizer.json formats match their added (special)
// tokens verbatim in the text, as Hugging Face does; SentencePiece and llama2.c read "<s>" as text.
// Implementations keep no state between calls, so one tokenizer may serve several threads.
//
// Decoding is defined by streaming: decode(ids) is the concatenation of decodeNext(previous, id)
// over the ids, with previous = kStart for the first one. The start of a text behaves like the
// position right after BOS, so decode({bos, a, b}) == decode({a, b}) == what a generation loop
// prints token by token; in SentencePiece-style formats the first piece loses the space that
// encode() prepended. BOS and EOS decode to nothing. Text is returned as raw bytes: a character
// that spans several byte tokens arrives in parts, and only the concatenation is valid UTF-8.
class Tokenizer {
public:
    // The `previous` of the first token of a text.
    static constexpr int32_t kStart = -1;

    virtual ~Tokenizer() = default;

    virtual std::vector<int32_t> encode(std::string_view text) const = 0;

    // Long texts are encoded in parts (eval/text_tokens.h). Where splitsAtWords() holds, a text
    // may be cut before a single space that follows an ASCII letter and precedes one ("one| two"),
    // and encode(a + b) == encode(a) + encodeContinuation(b) for such a cut: the rest is encoded
    // as text that follows other text (no dummy prefix or prepended marker). Formats whose merges
    // can join words keep a text whole (the default).
    virtual bool splitsAtWords() const { return false; }
    // Fails (rs::Error) where splitsAtWords() does not hold.
    virtual std::vector<int32_t> encodeContinuation(std::string_view text) const;
    // The formats here fail (rs::Error) on an id outside [0, vocabSize()).
    virtual std::string decode(std::span<const int32_t> ids) const = 0;
    // The text one token adds when streaming generation, given the token before it (kStart or BOS
    // at the start; SentencePiece-style formats strip a leading space there). The default decodes
    // the single token.
    virtual std::string decodeNext(int32_t previous, int32_t id) const;

    virtual int32_t vocabSize() const = 0;
    virtual std::optional<int32_t> bosId() const = 0;
    virtual std::optional<int32_t> eosId() const = 0;
    // Human-readable description, e.g. "tokenizer.json (byte-level BPE, 50257 tokens)".
    virtual std::string describe() const = 0;
    // The vocabulary as llama.cpp reads it: llama2.c and tokenizer.model as "llama", byte-level
    // BPE with a pre-tokenizer llama.cpp knows as "gpt2"; nullopt for any other (a
    // SentencePiece-style tokenizer.json, which has no scores; unknown split rules).
    virtual std::optional<Vocabulary> vocabulary() const { return std::nullopt; }
};

// Picks the tokenizer of a model directory: tokenizer.json, else tokenizer.model, else
// tokenizer.bin, else vocab.json + merges.txt. Fails with a message naming the directory when
// none is present.
std::unique_ptr<Tokenizer> loadTokenizerForModel(const std::filesystem::path& modelDir);

// Loads one tokenizer file, recognised by its name/extension (.json, .model, .bin); a vocab.json
// is read with the merges.txt beside it (GPT-2 layout).
std::unique_ptr<Tokenizer> loadTokenizerFile(const std::filesystem::path& file);

// One factory per format. Every one fails with a message naming the file when it is missing,
// truncated or not what it claims to be.

// llama2.c tokenizer.bin (see shared/data/PROVENANCE.md); BOS 1, EOS 2. The file does not store
// its token count: llama2.c reads the model's vocab_size entries. When `expectedVocabSize` is
// given, exactly that many are read and a shorter file is an error; otherwise the whole file is.
std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::filesystem::path& file,
                                                std::optional<int32_t> expectedVocabSize = {});

// SentencePiece tokenizer.model with a BPE model (Llama 1/2, Mistral, TinyLlama), read and encoded
// natively with SentencePiece's exact rules; BOS/EOS as the model defines them. Unigram models and
// precompiled normalization maps (nmt_nfkc) are refused with a clear error.
std::unique_ptr<Tokenizer> loadSentencePieceModel(const std::filesystem::path& file);

// Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2, Llama 3, Qwen2, SmolLM) or
// SentencePiece-style with byte fallback (Llama 2, Mistral, TinyLlama). BOS/EOS come from
// config.json or tokenizer_config.json beside the file, else from well-known token names.
std::unique_ptr<Tokenizer> loadHfTokenizerJson(const std::filesystem::path& file);

// GPT-2's byte-level BPE from its original vocab.json + merges.txt (what a GPT-2 tokenizer.json
// wraps); <|endoftext|> is a special token and both BOS and EOS.
std::unique_ptr<Tokenizer> loadGpt2VocabMerges(const std::filesystem::path& vocabJson,
                                               const std::filesystem::path& mergesTxt);

} // namespace rs
