// Writes the tokenizer.json files tst_tokenizer checks, from the real vocabularies in shared/data,
// the way Hugging Face's converters do.
#include "testdata.h"
#include "tokenizer/pieces.h"
#include "tokenizer_files.h"
#include "util/text.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <stdexcept>

namespace tokenizer_files {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json readJson(const fs::path& file) {
    return json::parse(rs::tok::readBinaryFile(file));
}

void writeJson(const fs::path& file, const json& content) {
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content.dump();
}

json addedToken(int id, const std::string& content) {
    return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", true}};
}

} // namespace

// Lines cut after every "\n", each keeping its "\n" (the last one may lack it).
std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    for (size_t start = 0; start < text.size();) {
        const size_t end = std::min(text.find('\n', start), text.size() - 1) + 1;
        lines.push_back(text.substr(start, end - start));
        start = end;
    }
    return lines;
}

const std::string& wikiText() {
    static const std::string text =
        rs::readTextFile(rs::test::dataPath("text/wikitext-2/wiki.test.raw"));
    return text;
}

// The first `count` lines of wiki.test.raw that hold more than whitespace, with their "\n".
std::vector<std::string> wikiContentLines(size_t count) {
    std::vector<std::string> lines;
    for (const auto& line : splitLines(wikiText())) {
        if (line.find_first_not_of(" \n") != std::string::npos && lines.size() < count) {
            lines.push_back(line);
        }
    }
    return lines;
}

// TinyStories text and strings that need byte fallback, odd spacing and rare characters.
std::vector<std::string> storyAndEdgeLines() {
    std::vector<std::string> lines =
        splitLines(rs::readTextFile(rs::test::dataPath("text/tinystories/sample.txt")));
    for (const char* extra :
         {"Once upon a time", "Hello world", "caf\xC3\xA9 na\xC3\xAFve \xC3\xA9migr\xC3\xA9",
          "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9"
          "\xE3\x83\x88",
          "emoji \xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD and \xE2\x98\x83 snow",
          "tabs\tand\r\nCRLF", "Ωmega ≠ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "numbers 1234567 3.14159",
          "a  b   c    d     e      f", "end with spaces   ", "x\n\n\ny",
          "                 seventeen spaces", "   \n\t\t  \n", " ", "\n",
          "\xC2\xA0non-breaking\xE2\x80\x83spaces"}) {
        lines.emplace_back(extra);
    }
    return lines;
}

const char* llama3Regex() {
    return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
           R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

json readFixture(const std::string& name) {
    std::ifstream in(rs::test::fixturePath(name), std::ios::binary);
    return json::parse(in);
}

// A case of pretokenize_splits.json: its own text, or a line of wiki.test.raw.
std::string caseText(const json& c, const std::vector<std::string>& wiki) {
    return c.contains("wiki_line") ? wiki.at(c.at("wiki_line").get<size_t>())
                                   : c.at("text").get<std::string>();
}

// GPT-2 as Hugging Face ships it: vocab.json + merges.txt wrapped in a ByteLevel pipeline, with
// the merges as "a b" strings or, as newer files have them, as ["a", "b"] pairs.
void writeGpt2Json(const fs::path& file, const fs::path& gpt2Dir, bool mergesAsPairs) {
    json merges = json::array();
    std::ifstream in(gpt2Dir / "merges.txt", std::ios::binary);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line.starts_with("#version")) {
            continue;
        }
        const size_t space = line.find(' ');
        merges.push_back(mergesAsPairs
                             ? json::array({line.substr(0, space), line.substr(space + 1)})
                             : json(line));
    }
    const json byteLevel = {{"type", "ByteLevel"},
                            {"add_prefix_space", false},
                            {"trim_offsets", true},
                            {"use_regex", true}};
    writeJson(file, {{"version", "1.0"},
                     {"truncation", nullptr},
                     {"padding", nullptr},
                     {"added_tokens", json::array({addedToken(50256, "<|endoftext|>")})},
                     {"normalizer", nullptr},
                     {"pre_tokenizer", byteLevel},
                     {"post_processor", byteLevel},
                     {"decoder", byteLevel},
                     {"model",
                      {{"type", "BPE"},
                       {"dropout", nullptr},
                       {"unk_token", nullptr},
                       {"continuing_subword_prefix", ""},
                       {"end_of_word_suffix", ""},
                       {"fuse_unk", false},
                       {"byte_fallback", false},
                       {"vocab", readJson(gpt2Dir / "vocab.json")},
                       {"merges", merges}}}});
}

// A byte-level tokenizer.json over GPT-2's vocabulary with any pre-tokenizer (to check the Llama 3
// Split and the SmolLM Digits pipelines on real merges).
void writeGpt2JsonWithPreTokenizer(const fs::path& file, const fs::path& gpt2Dir,
                                   const json& preTokenizer) {
    writeGpt2Json(file, gpt2Dir, false);
    json content = readJson(file);
    content["pre_tokenizer"] = preTokenizer;
    writeJson(file, content);
}

// Llama 2 as Hugging Face's LlamaConverter writes it from tokenizer.model: the pieces as vocab,
// merges = every split of a piece into two pieces, ordered by the merged piece's score (ties by
// vocabulary order), byte fallback. `pipeline` picks how spaces become U+2581:
//   "normalizer": Prepend + Replace normalizers (the long-standing layout)
//   "metaspace":  a Metaspace pre-tokenizer with prepend_scheme "first", split false (newer)
//   "legacy":     the old Metaspace pre-tokenizer with add_prefix_space (splits at every space)
void writeLlama2Json(const fs::path& file, const fs::path& spModel, const std::string& pipeline) {
    sentencepiece::SentencePieceProcessor sp;
    if (!sp.Load(spModel.string()).ok()) {
        throw std::runtime_error("cannot load " + spModel.string());
    }
    const int size = sp.GetPieceSize();
    json vocab = json::object();
    rs::tok::PieceIds ids;
    for (int id = 0; id < size; ++id) {
        vocab[sp.IdToPiece(id)] = id;
        ids.emplace(sp.IdToPiece(id), id);
    }
    struct Merge {
        float score;
        int left;
        int right;
    };
    std::vector<Merge> merges;
    for (int id = 0; id < size; ++id) {
        const std::string& piece = sp.IdToPiece(id);
        std::vector<Merge> local;
        // Cuts between characters, as the converter slices Python strings.
        for (size_t cut = 1; cut < piece.size(); ++cut) {
            if ((static_cast<unsigned char>(piece[cut]) & 0xC0) == 0x80) {
                continue;
            }
            const auto left = rs::tok::findPiece(ids, std::string_view(piece).substr(0, cut));
            const auto right = rs::tok::findPiece(ids, std::string_view(piece).substr(cut));
            if (left && right) {
                local.push_back({sp.GetScore(id), *left, *right});
            }
        }
        std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
            return std::pair(a.left, a.right) < std::pair(b.left, b.right);
        });
        merges.insert(merges.end(), local.begin(), local.end());
    }
    std::stable_sort(merges.begin(), merges.end(),
                     [](const Merge& a, const Merge& b) { return a.score > b.score; });
    json mergeList = json::array();
    for (const Merge& m : merges) {
        mergeList.push_back(sp.IdToPiece(m.left) + " " + sp.IdToPiece(m.right));
    }

    const std::string space(rs::tok::kMetaspace);
    json normalizer = nullptr;
    json preTokenizer = nullptr;
    json decoder = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    if (pipeline == "normalizer") {
        normalizer = {
            {"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", space}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}};
    } else if (pipeline == "metaspace") {
        preTokenizer = {{"type", "Metaspace"},
                        {"replacement", space},
                        {"prepend_scheme", "first"},
                        {"split", false}};
        decoder = preTokenizer;
    } else {
        preTokenizer = {{"type", "Metaspace"}, {"replacement", space}, {"add_prefix_space", true}};
        decoder = preTokenizer;
    }
    writeJson(file, {{"version", "1.0"},
                     {"added_tokens",
                      {addedToken(0, "<unk>"), addedToken(1, "<s>"), addedToken(2, "</s>")}},
                     {"normalizer", normalizer},
                     {"pre_tokenizer", preTokenizer},
                     {"post_processor", nullptr},
                     {"decoder", decoder},
                     {"model",
                      {{"type", "BPE"},
                       {"dropout", nullptr},
                       {"unk_token", "<unk>"},
                       {"continuing_subword_prefix", nullptr},
                       {"end_of_word_suffix", nullptr},
                       {"fuse_unk", true},
                       {"byte_fallback", true},
                       {"vocab", vocab},
                       {"merges", mergeList}}}});
}

} // namespace tokenizer_files
