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

// One interface over every tokenizer format RankScope reads. encode() never adds BOS/EOS: the
// evaluation protocols decide where those go.
class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    virtual std::vector<int32_t> encode(std::string_view text) const = 0;
    virtual std::string decode(std::span<const int32_t> ids) const = 0;
    // The text one token adds when streaming generation, given the token before it (formats that
    // strip a leading space after BOS need it). The default decodes the single token.
    virtual std::string decodeNext(int32_t previous, int32_t id) const;

    virtual int32_t vocabSize() const = 0;
    virtual std::optional<int32_t> bosId() const = 0;
    virtual std::optional<int32_t> eosId() const = 0;
    // Human-readable description, e.g. "tokenizer.json (byte-level BPE, 50257 tokens)".
    virtual std::string describe() const = 0;
};

// Picks the tokenizer of a model directory: tokenizer.json, else tokenizer.model, else
// tokenizer.bin. Fails with a message naming the directory when none is present.
std::unique_ptr<Tokenizer> loadTokenizerForModel(const std::filesystem::path& modelDir);

// Loads one tokenizer file, recognised by its name/extension (.json, .model, .bin).
std::unique_ptr<Tokenizer> loadTokenizerFile(const std::filesystem::path& file);

} // namespace rs
