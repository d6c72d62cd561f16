// Hugging Face tokenizer.json (BPE models) and GPT-2's vocab.json + merges.txt, read into a
// BpeSpec. Only the components real BPE checkpoints use are accepted; anything else fails with a
// message naming the file and the component, rather than tokenizing differently from Hugging Face.
#include "tokenizer/bpe_tokenizer.h"
#include "util/error.h"

#include <cstdint>
#include <nlohmann/json.hpp>

namespace rs {

namespace {

using nlohmann::json;

// The largest token id read: vocabularies hold at most a few hundred thousand tokens, and the
// tokenizer keeps a table indexed by id, so a stray id of 2^31 - 1 would ask for gigabytes.
constexpr int64_t kMaxTokenId = (int64_t(1) << 24) - 1;

// A token id as a vocabulary gives it. nlohmann's get<int32_t>() converts any number without a
// range check (5e35 is undefined behaviour), so numbers are taken only as whole numbers in range;
// anything else throws json::type_error, which the callers report as a malformed file.
int32_t readTokenId(const json& id, const std::string& source, const std::string& piece) {
    const bool outOfRange =
        id.is_number_float() ||
        (id.is_number_unsigned() && id.get<uint64_t>() > uint64_t(kMaxTokenId)) ||
        (id.is_number_integer() && (id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId));
    if (outOfRange)
        fail(source, "token " + json(piece).dump() + " has the id " + id.dump() +
                         ", not a whole number from 0 to " + std::to_string(kMaxTokenId));
    return static_cast<int32_t>(id.get<int64_t>());
}

class SpecReader {
public:
    explicit SpecReader(std::string source)
        : m_source(std::move(source)) {}

    [[noreturn]] void reject(const std::string& problem) const { fail(m_source, problem); }

    void readNormalizer(const json& node, std::vector<tok::NormalizerStep>& steps) const {
        if (node.is_null()) {
            return;
        }
        const std::string type = node.at("type").get<std::string>();
        if (type == "Sequence") {
            for (const auto& child : node.at("normalizers")) {
                readNormalizer(child, steps);
            }
        } else if (type == "Prepend") {
            steps.push_back({tok::NormalizerStep::Kind::Prepend, {}, node.at("prepend"), {}});
        } else if (type == "Replace") {
            const json& pattern = node.at("pattern");
            if (!pattern.contains("String")) {
                reject("normalizer Replace with a regex pattern is not supported: " +
                       pattern.dump());
            }
            steps.push_back(
                {tok::NormalizerStep::Kind::Replace, pattern.at("String"), node.at("content"), {}});
        } else if (const auto form = normalForm(type)) {
            steps.push_back({tok::NormalizerStep::Kind::Unicode, {}, {}, *form});
        } else {
            reject("normalizer \"" + type + "\" is not supported");
        }
    }

    void readPreTokenizer(const json& node, std::vector<tok::PreTokenizerStep>& steps) const {
        if (node.is_null()) {
            return;
        }
        const std::string type = node.at("type").get<std::string>();
        tok::PreTokenizerStep step;
        if (type == "Sequence") {
            for (const auto& child : node.at("pretokenizers")) {
                readPreTokenizer(child, steps);
            }
            return;
        } else if (type == "ByteLevel") {
            step.kind = tok::PreTokenizerStep::Kind::ByteLevel;
            step.addPrefixSpace = node.value("add_prefix_space", false);
            step.useRegex = node.value("use_regex", true);
        } else if (type == "Split") {
            step.kind = tok::PreTokenizerStep::Kind::Split;
            const json& pattern = node.at("pattern");
            const std::string behavior = node.value("behavior", "Isolated");
            if (!pattern.contains("Regex") || behavior != "Isolated" ||
                node.value("invert", false)) {
                reject("pre-tokenizer Split is supported only with a regex pattern, behavior "
                       "Isolated and no invert; found " +
                       node.dump());
            }
            const std::string regex = pattern.at("Regex");
            const auto known = tok::recognizeSplitPattern(regex);
            if (!known) {
                reject("pre-tokenizer Split pattern " + json(regex).dump() +
                       " is not one of the supported patterns (GPT-2, Llama 3, Qwen2)");
            }
            step.pattern = *known;
        } else if (type == "Digits") {
            step.kind = tok::PreTokenizerStep::Kind::Digits;
            step.individualDigits = node.value("individual_digits", false);
        } else if (type == "Metaspace") {
            step.kind = tok::PreTokenizerStep::Kind::Metaspace;
            step.replacement = node.value("replacement", std::string(tok::kMetaspace));
            step.split = node.value("split", true);
            step.prepend = prependScheme(node);
        } else {
            reject("pre-tokenizer \"" + type + "\" is not supported");
        }
        steps.push_back(step);
    }

    // Whether the decoder drops the space that encoding put in front of the text.
    bool decoderStripsLeadingSpace(const json& node) const {
        if (node.is_null()) {
            return false;
        }
        const std::string type = node.value("type", "");
        if (type == "Sequence") {
            for (const auto& child : node.at("decoders")) {
                if (decoderStripsLeadingSpace(child)) {
                    return true;
                }
            }
            return false;
        }
        if (type == "Strip") {
            return node.value("content", "") == " " && node.value("start", 0) > 0;
        }
        if (type == "Metaspace") {
            return prependScheme(node) != tok::PreTokenizerStep::Prepend::Never;
        }
        return false;
    }

    static bool mentions(const json& node, std::string_view type) {
        if (node.is_object()) {
            if (node.value("type", "") == type) {
                return true;
            }
            for (const auto& [key, child] : node.items()) {
                if (mentions(child, type)) {
                    return true;
                }
            }
        } else if (node.is_array()) {
            for (const auto& child : node) {
                if (mentions(child, type)) {
                    return true;
                }
            }
        }
        return false;
    }

private:
    static std::optional<tok::NormalForm> normalForm(const std::string& type) {
        if (type == "NFC") {
            return tok::NormalForm::Nfc;
        }
        if (type == "NFKC") {
            return tok::NormalForm::Nfkc;
        }
        if (type == "NFD") {
            return tok::NormalForm::Nfd;
        }
        if (type == "NFKD") {
            return tok::NormalForm::Nfkd;
        }
        return std::nullopt;
    }

    tok::PreTokenizerStep::Prepend prependScheme(const json& node) const {
        using Prepend = tok::PreTokenizerStep::Prepend;
        if (node.contains("prepend_scheme")) {
            const std::string scheme = node.at("prepend_scheme");
            if (scheme == "always") {
                return Prepend::Always;
            }
            if (scheme == "first") {
                return Prepend::First;
            }
            if (scheme == "never") {
                return Prepend::Never;
            }
            reject("Metaspace prepend_scheme \"" + scheme + "\" is not known");
        }
        return node.value("add_prefix_space", true) ? Prepend::Always : Prepend::Never;
    }

    std::string m_source;
};

std::optional<int32_t> tokenIdByContent(const tok::BpeSpec& spec, std::string_view content) {
    for (const auto& token : spec.addedTokens) {
        if (token.content == content) {
            return token.id;
        }
    }
    return tok::findPiece(spec.vocab, content);
}

json readJsonIfPresent(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        return nullptr;
    }
    try {
        return json::parse(tok::readBinaryFile(file));
    } catch (const json::exception&) {
        return nullptr; // a broken side file is reported by whoever owns it
    }
}

// BOS/EOS are not part of tokenizer.json. The model's config.json has them as ids,
// tokenizer_config.json as token texts; without either, the usual names decide.
void findSpecialTokens(const std::filesystem::path& dir, tok::BpeSpec& spec) {
    const int32_t size = [&] {
        int32_t n = 0;
        for (const auto& [piece, id] : spec.vocab) {
            n = std::max(n, id + 1);
        }
        for (const auto& token : spec.addedTokens) {
            n = std::max(n, token.id + 1);
        }
        return n;
    }();
    const auto idFrom = [&](const json& value) -> std::optional<int32_t> {
        const json& v = value.is_array() && !value.empty() ? value.front() : value;
        if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < size) {
            return v.get<int32_t>();
        }
        const json& text = v.is_object() ? v.value("content", json()) : v;
        return text.is_string() ? tokenIdByContent(spec, text.get<std::string>()) : std::nullopt;
    };
    for (const char* name : {"config.json", "tokenizer_config.json"}) {
        const json config = readJsonIfPresent(dir / name);
        if (config.is_object()) {
            for (const auto& [key, target] : {std::pair{"bos", &spec.bos}, {"eos", &spec.eos}}) {
                for (const std::string suffix : {"_token_id", "_token"}) {
                    if (!*target && config.contains(key + suffix)) {
                        *target = idFrom(config.at(key + suffix));
                    }
                }
            }
        }
    }
    for (const auto& [bos, eos] : {std::pair{"<s>", "</s>"},
                                   {"<|begin_of_text|>", "<|end_of_text|>"},
                                   {"<|endoftext|>", "<|endoftext|>"}}) {
        if (!spec.bos && !spec.eos) {
            spec.bos = tokenIdByContent(spec, bos);
            spec.eos = tokenIdByContent(spec, eos);
        }
    }
}

void readMerges(const SpecReader& reader, const json& merges, tok::BpeSpec& spec) {
    spec.merges.reserve(merges.size());
    for (const auto& merge : merges) {
        if (merge.is_string()) {
            const std::string text = merge;
            const size_t space = text.find(' ');
            if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
                reader.reject("merge \"" + text + "\" is not two pieces separated by a space");
            }
            spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
        } else if (merge.is_array() && merge.size() == 2) {
            spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
        } else {
            reader.reject("merge " + merge.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
    }
}

tok::BpeSpec readTokenizerJson(const std::filesystem::path& file) {
    const std::string source = file.string();
    const SpecReader reader(source);
    json root;
    try {
        root = json::parse(tok::readBinaryFile(file));
    } catch (const json::parse_error& e) {
        reader.reject("not valid JSON (parse error at byte " + std::to_string(e.byte) + ")");
    }
    if (!root.is_object() || !root.contains("model") || !root.at("model").is_object()) {
        reader.reject("not a Hugging Face tokenizer.json (no \"model\" object)");
    }
    const json& model = root.at("model");
    const std::string type = model.value("type", model.contains("merges") ? "BPE" : "");
    if (type != "BPE") {
        reader.reject("model type \"" + type + "\" is not supported (only BPE)");
    }
    tok::BpeSpec spec;
    spec.source = source;
    spec.format = file.filename().string();
    for (const auto& [piece, id] : model.at("vocab").items()) {
        spec.vocab.emplace(piece, readTokenId(id, source, piece));
    }
    readMerges(reader, model.value("merges", json::array()), spec);
    spec.byteFallback = model.value("byte_fallback", false);
    spec.ignoreMerges = model.value("ignore_merges", false);
    spec.fuseUnk = model.value("fuse_unk", false);
    if (model.contains("unk_token") && model.at("unk_token").is_string()) {
        spec.unkToken = model.at("unk_token").get<std::string>();
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        if (model.contains(key) && !model.at(key).is_null() && model.at(key) != "") {
            reader.reject(std::string("BPE ") + key + " is not supported");
        }
    }
    for (const auto& token : root.value("added_tokens", json::array())) {
        const std::string content = token.at("content");
        spec.addedTokens.push_back({content, readTokenId(token.at("id"), source, content),
                                    token.value("lstrip", false), token.value("rstrip", false)});
    }
    reader.readNormalizer(root.value("normalizer", json()), spec.normalizers);
    reader.readPreTokenizer(root.value("pre_tokenizer", json()), spec.preTokenizers);
    const json decoder = root.value("decoder", json());
    spec.byteLevel = SpecReader::mentions(root.value("pre_tokenizer", json()), "ByteLevel") ||
                     SpecReader::mentions(decoder, "ByteLevel");
    const bool sentencePieceStyle =
        spec.byteFallback ||
        SpecReader::mentions(root.value("pre_tokenizer", json()), "Metaspace") ||
        SpecReader::mentions(decoder, "Metaspace") ||
        SpecReader::mentions(decoder, "ByteFallback") ||
        std::any_of(spec.normalizers.begin(), spec.normalizers.end(), [](const auto& step) {
            return step.content.find(tok::kMetaspace) != std::string::npos;
        });
    if (spec.byteLevel == sentencePieceStyle) {
        reader.reject(spec.byteLevel
                          ? "BPE tokenizer is both byte-level and SentencePiece-style"
                          : "BPE tokenizer is neither byte-level (ByteLevel pre-tokenizer or "
                            "decoder) nor SentencePiece-style (U+2581 spaces, byte fallback)");
    }
    spec.stripLeadingSpace = !spec.byteLevel && reader.decoderStripsLeadingSpace(decoder);
    findSpecialTokens(file.parent_path(), spec);
    return spec;
}

} // namespace

std::unique_ptr<Tokenizer> loadHfTokenizerJson(const std::filesystem::path& file) {
    tok::BpeSpec spec;
    try {
        spec = readTokenizerJson(file);
    } catch (const json::exception& e) {
        fail(file.string(), std::string("unexpected tokenizer.json structure: ") + e.what());
    }
    return tok::makeBpeTokenizer(std::move(spec));
}

std::unique_ptr<Tokenizer> loadGpt2VocabMerges(const std::filesystem::path& vocabJson,
                                               const std::filesystem::path& mergesTxt) {
    tok::BpeSpec spec;
    spec.source = vocabJson.string();
    spec.format = vocabJson.filename().string() + " + " + mergesTxt.filename().string();
    spec.byteLevel = true;
    try {
        const json vocab = json::parse(tok::readBinaryFile(vocabJson));
        if (!vocab.is_object()) {
            fail(spec.source, "not a vocabulary (expected a JSON object of piece: id)");
        }
        for (const auto& [piece, id] : vocab.items()) {
            spec.vocab.emplace(piece, readTokenId(id, spec.source, piece));
        }
    } catch (const json::parse_error& e) {
        fail(spec.source, "not valid JSON (parse error at byte " + std::to_string(e.byte) + ")");
    } catch (const json::exception& e) {
        fail(spec.source, std::string("not a vocabulary: ") + e.what());
    }
    const std::string merges = tok::readBinaryFile(mergesTxt);
    size_t lineNumber = 0;
    for (size_t start = 0; start < merges.size();) {
        size_t end = merges.find('\n', start);
        end = end == std::string::npos ? merges.size() : end;
        std::string_view line(merges.data() + start, end - start);
        start = end + 1;
        ++lineNumber;
        if (line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        if (line.empty() || (lineNumber == 1 && line.starts_with("#version"))) {
            continue;
        }
        const size_t space = line.find(' ');
        if (space == std::string_view::npos ||
            line.find(' ', space + 1) != std::string_view::npos) {
            fail(mergesTxt.string(),
                 "line " + std::to_string(lineNumber) + " is not two pieces separated by a space");
        }
        spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
    spec.preTokenizers.push_back({}); // ByteLevel with the GPT-2 regex, no prefix space
    if (const auto endOfText = tok::findPiece(spec.vocab, "<|endoftext|>")) {
        spec.addedTokens.push_back({"<|endoftext|>", *endOfText});
        spec.bos = spec.eos = endOfText;
    }
    return tok::makeBpeTokenizer(std::move(spec));
}

} // namespace rs
