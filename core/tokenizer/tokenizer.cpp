#include "tokenizer/tokenizer.h"

#include "tokenizer/pieces.h"
#include "util/error.h"

#include <array>
#include <nlohmann/json.hpp>

namespace rs {

std::string Tokenizer::decodeNext(int32_t /*previous*/, int32_t id) const {
    const std::array<int32_t, 1> one{id};
    return decode(one);
}

std::vector<int32_t> Tokenizer::encodeContinuation(std::string_view /*text*/) const {
    fail(describe(), "cannot encode a text in parts; it is encoded whole");
}

namespace {

// llama2.c reads exactly the model's vocab_size entries of tokenizer.bin; a model directory's
// config.json says how many that is.
std::optional<int32_t> configVocabSize(const std::filesystem::path& modelDir) {
    std::error_code ec;
    const auto config = modelDir / "config.json";
    if (!std::filesystem::is_regular_file(config, ec)) {
        return std::nullopt;
    }
    const auto json = nlohmann::json::parse(tok::readBinaryFile(config), nullptr, false);
    if (json.is_object() && json.contains("vocab_size") &&
        json.at("vocab_size").is_number_integer()) {
        const auto size = json.at("vocab_size").get<int64_t>();
        if (size > 0 && size <= INT32_MAX) {
            return static_cast<int32_t>(size);
        }
    }
    return std::nullopt;
}

} // namespace

std::unique_ptr<Tokenizer> loadTokenizerForModel(const std::filesystem::path& modelDir) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(modelDir / "tokenizer.json", ec)) {
        return loadHfTokenizerJson(modelDir / "tokenizer.json");
    }
    if (std::filesystem::is_regular_file(modelDir / "tokenizer.model", ec)) {
        return loadSentencePieceModel(modelDir / "tokenizer.model");
    }
    if (std::filesystem::is_regular_file(modelDir / "tokenizer.bin", ec)) {
        return loadLlama2cTokenizer(modelDir / "tokenizer.bin", configVocabSize(modelDir));
    }
    if (std::filesystem::is_regular_file(modelDir / "vocab.json", ec)) {
        return loadGpt2VocabMerges(modelDir / "vocab.json", modelDir / "merges.txt");
    }
    fail(modelDir.string(),
         "no tokenizer (looked for tokenizer.json, tokenizer.model, tokenizer.bin, vocab.json)");
}

std::unique_ptr<Tokenizer> loadTokenizerFile(const std::filesystem::path& file) {
    const std::string name = file.filename().string();
    const std::string extension = file.extension().string();
    if (name == "vocab.json") {
        return loadGpt2VocabMerges(file, file.parent_path() / "merges.txt");
    }
    if (extension == ".json") {
        return loadHfTokenizerJson(file);
    }
    if (extension == ".model") {
        return loadSentencePieceModel(file);
    }
    if (extension == ".bin") {
        return loadLlama2cTokenizer(file);
    }
    fail(file.string(), "unknown tokenizer file type (expected tokenizer.json, tokenizer.model, "
                        "tokenizer.bin or vocab.json)");
}

} // namespace rs
