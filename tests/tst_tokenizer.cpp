#include "testdata.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pieces.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_files.h"
#include "util/error.h"
#include "util/text.h"

#include <QTest>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using namespace tokenizer_files;
using Ids = std::vector<int32_t>;

// The pre-tokenizer regexes of GPT-2, Llama 3 and Qwen2 tokenizer.json files.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Regex = tokenizer_files::llama3Regex();
constexpr const char* kQwen2Regex = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
                                    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string errorOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const rs::Error& e) {
        return e.what();
    }
    return "(no error)";
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

Ids toIds(const std::vector<int>& ids) {
    return Ids(ids.begin(), ids.end());
}

std::string streamDecode(const rs::Tokenizer& tokenizer, const Ids& ids, int32_t first) {
    std::string text;
    int32_t previous = first;
    for (const int32_t id : ids) {
        text += tokenizer.decodeNext(previous, id);
        previous = id;
    }
    return text;
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void preTokenizerMatchesJavaScriptRegex();
    void gpt2MatchesJavaScriptReference();
    void gpt2TokenizerJsonMatchesVocabMerges();
    void byteLevelPipelines();
    void llama2BinMatchesSentencePiece();
    void sentencePieceStyleJsonMatchesSentencePiece();
    void stories260K();
    void badInput();
    void encodeSpeed();

private:
    fs::path m_dir;
};

void TestTokenizer::initTestCase() {
    m_dir = fs::temp_directory_path() / ("rankscope_tst_tokenizer_" + std::to_string(getpid()));
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
}

void TestTokenizer::cleanupTestCase() {
    fs::remove_all(m_dir);
}

// The hand-written matchers against JavaScript's backtracking regex engine on the same patterns.
void TestTokenizer::preTokenizerMatchesJavaScriptRegex() {
    const json fixture = readFixture("pretokenize_splits.json");
    const auto wiki = splitLines(wikiText());
    const std::pair<const char*, const char*> patterns[] = {
        {"gpt2", kGpt2Regex}, {"llama3", kLlama3Regex}, {"qwen2", kQwen2Regex}};
    QCOMPARE(fixture.at("cases").size(), size_t(131));
    size_t checked = 0;
    for (const auto& [name, regex] : patterns) {
        const auto pattern = rs::tok::recognizeSplitPattern(regex);
        QVERIFY2(pattern, name);
        for (const auto& c : fixture.at("cases")) {
            const std::string text = caseText(c, wiki);
            std::vector<std::string_view> pieces;
            rs::tok::splitByPattern(text, *pattern, pieces);
            const auto expected = c.at(name).get<std::vector<std::string>>();
            QCOMPARE(std::vector<std::string>(pieces.begin(), pieces.end()), expected);
            ++checked;
        }
    }
    QCOMPARE(checked, size_t(3 * 131));
    QVERIFY(!rs::tok::recognizeSplitPattern(R"(\p{L}+|\s+)"));

    std::vector<std::string_view> digits;
    rs::tok::splitDigits("ab 123x4", true, digits);
    QCOMPARE(std::vector<std::string>(digits.begin(), digits.end()),
             (std::vector<std::string>{"ab ", "1", "2", "3", "x", "4"}));
    digits.clear();
    rs::tok::splitDigits("ab 123x4", false, digits);
    QCOMPARE(std::vector<std::string>(digits.begin(), digits.end()),
             (std::vector<std::string>{"ab ", "123", "x", "4"}));
}

// GPT-2 from vocab.json + merges.txt against the npm package gpt-3-encoder: each of the first 200
// lines of wiki.test.raw, with its "\n", encoded on its own (see scripts/make_gpt2_fixture.js).
void TestTokenizer::gpt2MatchesJavaScriptReference() {
    const auto gpt2 = rs::loadGpt2VocabMerges(rs::test::dataPath("tokenizers/gpt2/vocab.json"),
                                              rs::test::dataPath("tokenizers/gpt2/merges.txt"));
    QCOMPARE(gpt2->vocabSize(), 50257);
    QCOMPARE(gpt2->eosId(), std::optional<int32_t>(50256));
    QCOMPARE(gpt2->describe(),
             std::string("vocab.json + merges.txt (byte-level BPE, 50257 tokens)"));
    const json fixture = readFixture("gpt2_wiki200.json");
    const auto& expected = fixture.at("ids");
    const auto lines = splitLines(wikiText());
    QCOMPARE(expected.size(), size_t(200));
    size_t tokens = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        const Ids ids = gpt2->encode(lines[i]);
        QCOMPARE(ids, expected[i].get<Ids>());
        QCOMPARE(gpt2->decode(ids), lines[i]);
        tokens += ids.size();
    }
    QVERIFY(tokens > 10000);
    QCOMPARE(gpt2->encode("Hello world<|endoftext|> x"), (Ids{15496, 995, 50256, 2124}));
    QCOMPARE(gpt2->decode(Ids{15496, 995}), std::string("Hello world"));
}

void TestTokenizer::gpt2TokenizerJsonMatchesVocabMerges() {
    const auto gpt2Dir = rs::test::dataPath("tokenizers/gpt2");
    const auto direct = rs::loadGpt2VocabMerges(gpt2Dir / "vocab.json", gpt2Dir / "merges.txt");
    QCOMPARE(rs::loadTokenizerFile(gpt2Dir / "vocab.json")->encode(wikiContentLines(1)[0]),
             direct->encode(wikiContentLines(1)[0]));
    const auto lines = wikiContentLines(300);
    for (const bool pairs : {false, true}) {
        const auto file = m_dir / (pairs ? "gpt2_pairs" : "gpt2_strings") / "tokenizer.json";
        tokenizer_files::writeGpt2Json(file, gpt2Dir, pairs);
        const auto json = rs::loadTokenizerForModel(file.parent_path());
        QCOMPARE(json->describe(), std::string("tokenizer.json (byte-level BPE, 50257 tokens)"));
        QCOMPARE(json->vocabSize(), direct->vocabSize());
        QCOMPARE(json->bosId(), std::optional<int32_t>(50256));
        for (const auto& line : lines) {
            QCOMPARE(json->encode(line), direct->encode(line));
        }
        const std::string mixed = "<|endoftext|>" + lines[0] + "<|endoftext|>\xE2\x98\x83";
        QCOMPARE(json->encode(mixed), direct->encode(mixed));
    }
}

// Llama 3 / Qwen2 Split and SmolLM Digits pipelines, run over GPT-2's real merges: encoding with
// the pipeline must equal encoding each of its pieces as one word.
void TestTokenizer::byteLevelPipelines() {
    const auto gpt2Dir = rs::test::dataPath("tokenizers/gpt2");
    const json wholeWord = {
        {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
    const json split = {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Split"},
                           {"pattern", {{"Regex", kLlama3Regex}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                          wholeWord}}};
    tokenizer_files::writeGpt2JsonWithPreTokenizer(m_dir / "whole/tokenizer.json", gpt2Dir,
                                                   wholeWord);
    tokenizer_files::writeGpt2JsonWithPreTokenizer(m_dir / "llama3/tokenizer.json", gpt2Dir, split);
    const auto whole = rs::loadHfTokenizerJson(m_dir / "whole/tokenizer.json");
    const auto splitting = rs::loadHfTokenizerJson(m_dir / "llama3/tokenizer.json");
    const json fixture = readFixture("pretokenize_splits.json");
    const auto wiki = splitLines(wikiText());
    for (const auto& c : fixture.at("cases")) {
        const std::string text = caseText(c, wiki);
        Ids expected;
        for (const auto& piece : c.at("llama3")) {
            const Ids ids = whole->encode(piece.get<std::string>());
            expected.insert(expected.end(), ids.begin(), ids.end());
        }
        QCOMPARE(splitting->encode(text), expected);
        QCOMPARE(splitting->decode(expected), text);
    }

    // SmolLM: Digits(individual_digits) then ByteLevel with the GPT-2 regex.
    const json digits = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Digits"}, {"individual_digits", true}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}}}};
    tokenizer_files::writeGpt2JsonWithPreTokenizer(m_dir / "digits/tokenizer.json", gpt2Dir,
                                                   digits);
    const auto smol = rs::loadHfTokenizerJson(m_dir / "digits/tokenizer.json");
    const auto gpt2 = rs::loadGpt2VocabMerges(gpt2Dir / "vocab.json", gpt2Dir / "merges.txt");
    Ids expected;
    for (const char* piece : {"In ", "2", "0", "1", "6", ", ", "3", "4", " cats"}) {
        const Ids ids = gpt2->encode(piece);
        expected.insert(expected.end(), ids.begin(), ids.end());
    }
    QCOMPARE(smol->encode("In 2016, 34 cats"), expected);
    QVERIFY(gpt2->encode("In 2016, 34 cats") != expected); // GPT-2 keeps " 2016" whole

    // Qwen2's NFC normalizer: a decomposed "é" encodes as the composed one.
    json nfc = json::parse(rs::tok::readBinaryFile(m_dir / "whole/tokenizer.json"));
    nfc["normalizer"] = {{"type", "NFC"}};
    fs::create_directories(m_dir / "nfc");
    std::ofstream(m_dir / "nfc/tokenizer.json") << nfc.dump();
    const auto normalizing = rs::loadHfTokenizerJson(m_dir / "nfc/tokenizer.json");
    QCOMPARE(normalizing->encode("caf"
                                 "e\xCC\x81"),
             whole->encode("caf\xC3\xA9"));
    QVERIFY(whole->encode("caf"
                          "e\xCC\x81") != whole->encode("caf\xC3\xA9"));

    // ignore_merges (Llama 3): a word already in the vocabulary is one token even when the merges
    // cannot build it. A tiny vocabulary: the 256 byte characters, "ab" and "abc"; one merge "a b".
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) {
        std::string piece;
        rs::tok::appendUtf8(piece, rs::tok::byteToUnicode(static_cast<uint8_t>(b)));
        vocab[piece] = b;
    }
    vocab["ab"] = 256;
    vocab["abc"] = 257;
    for (const bool ignoreMerges : {false, true}) {
        const auto file = m_dir / (ignoreMerges ? "ignore" : "merge") / "tokenizer.json";
        fs::create_directories(file.parent_path());
        std::ofstream(file) << json{{"model",
                                     {{"type", "BPE"},
                                      {"ignore_merges", ignoreMerges},
                                      {"vocab", vocab},
                                      {"merges", {"a b"}}}},
                                    {"pre_tokenizer", wholeWord},
                                    {"decoder", {{"type", "ByteLevel"}}}};
        const auto tiny = rs::loadHfTokenizerJson(file);
        QCOMPARE(tiny->encode("abc"), (ignoreMerges ? Ids{257} : Ids{256, 'c'}));
        QCOMPARE(tiny->encode("abcab"), (Ids{256, 'c', 256}));
        QCOMPARE(tiny->decode(Ids{257, ' '}), std::string("abc "));
    }
}

// The Llama 2 vocabulary as tokenizer.model and in llama2.c's format (scores, pieces with plain
// spaces, llama2.c's merge loop) against libsentencepiece itself, the reference implementation.
void TestTokenizer::llama2BinMatchesSentencePiece() {
    const auto modelFile = rs::test::dataPath("tokenizers/llama2/tokenizer.model");
    const auto model = rs::loadTokenizerFile(modelFile);
    const auto bin = rs::loadTokenizerFile(rs::test::dataPath("tokenizers/llama2/tokenizer.bin"));
    QCOMPARE(model->describe(), std::string("tokenizer.model (SentencePiece BPE, 32000 pieces)"));
    QCOMPARE(bin->describe(), std::string("tokenizer.bin (llama2.c, 32000 tokens)"));
    for (const auto* t : {model.get(), bin.get()}) {
        QCOMPARE(t->vocabSize(), 32000);
        QCOMPARE(t->bosId(), std::optional<int32_t>(1));
        QCOMPARE(t->eosId(), std::optional<int32_t>(2));
        QCOMPARE(t->encode("Once upon a time"), (Ids{9038, 2501, 263, 931}));
        QCOMPARE(t->encode(""), Ids{});
    }
    sentencepiece::SentencePieceProcessor sp;
    QVERIFY(sp.Load(modelFile.string()).ok());

    auto lines = wikiContentLines(200);
    const auto extra = storyAndEdgeLines();
    lines.insert(lines.end(), extra.begin(), extra.end());
    size_t byteTokens = 0;
    for (const auto& line : lines) {
        const std::vector<int> reference = sp.EncodeAsIds(line);
        const Ids ids(reference.begin(), reference.end());
        QCOMPARE(model->encode(line), ids);
        QCOMPARE(bin->encode(line), ids);
        QCOMPARE(model->decode(ids), sp.DecodeIds(reference));
        QCOMPARE(model->decode(ids), line);
        QCOMPARE(bin->decode(ids), line);
        Ids withBos{1};
        withBos.insert(withBos.end(), ids.begin(), ids.end());
        QCOMPARE(bin->decode(withBos), line);
        QCOMPARE(streamDecode(*model, ids, 1), line);
        byteTokens += std::count_if(ids.begin(), ids.end(), [](int32_t id) { return id < 259; });
    }
    QVERIFY(byteTokens > 200); // every wiki line ends in <0x0A>; emoji and CJK add more
    const std::string controls = "<s> and </s> are plain text here";
    QCOMPARE(model->encode(controls), toIds(sp.EncodeAsIds(controls)));
    QCOMPARE(bin->encode(controls), toIds(sp.EncodeAsIds(controls)));

    // Where the formats legitimately part: llama2.c looks characters up as they are, while
    // SentencePiece first normalizes (malformed UTF-8 becomes U+FFFD) and reads a literal U+2581
    // in the text as its space marker (the llama2.c export turned every U+2581 into a space).
    const std::string malformed = "ab\xFF"
                                  "cd";
    QCOMPARE(model->encode(malformed), toIds(sp.EncodeAsIds(malformed)));
    QCOMPARE(model->encode(malformed), model->encode("ab\xEF\xBF\xBD"
                                                     "cd"));
    QCOMPARE(bin->encode(malformed), (Ids{633, 258, 2252})); // " ab", <0xFF>, "cd"
    const std::string marker = "a\xE2\x96\x81"
                               "b";
    QCOMPARE(model->encode(marker), toIds(sp.EncodeAsIds(marker)));
    QCOMPARE(model->encode(marker), model->encode("a b"));
    QCOMPARE(bin->encode(marker), (Ids{263, 229, 153, 132, 29890})); // " a", E2 96 81, "b"
}

// A Llama 2 tokenizer.json built from tokenizer.model as Hugging Face converts it, against
// libsentencepiece.
void TestTokenizer::sentencePieceStyleJsonMatchesSentencePiece() {
    const auto modelFile = rs::test::dataPath("tokenizers/llama2/tokenizer.model");
    const auto model = rs::loadSentencePieceModel(modelFile);
    auto lines = wikiContentLines(200);
    const auto extra = storyAndEdgeLines();
    lines.insert(lines.end(), extra.begin(), extra.end());

    sentencepiece::SentencePieceProcessor sp;
    QVERIFY(sp.Load(modelFile.string()).ok());
    tokenizer_files::writeLlama2Json(m_dir / "llama2/tokenizer.json", modelFile, "normalizer");
    const auto json = rs::loadTokenizerForModel(m_dir / "llama2");
    QCOMPARE(json->describe(),
             std::string("tokenizer.json (SentencePiece-style BPE, 32000 tokens)"));
    QCOMPARE(json->bosId(), std::optional<int32_t>(1));
    QCOMPARE(json->eosId(), std::optional<int32_t>(2));
    for (const auto& line : lines) {
        const Ids ids = toIds(sp.EncodeAsIds(line));
        QCOMPARE(json->encode(line), ids);
        QCOMPARE(json->decode(ids), line);
        QCOMPARE(streamDecode(*json, ids, 1), line);
    }
    // Unlike SentencePiece, tokenizer.json matches special tokens in the text, and the normalizer
    // runs on each side of them.
    QCOMPARE(json->encode("Hi<s>Hi"), (Ids{6324, 1, 6324}));
    QCOMPARE(model->encode("Hi<s>Hi"), (Ids{6324, 29966, 29879, 29958, 18567}));

    // Newer files: a Metaspace pre-tokenizer (prepend_scheme "first", no split). It adds no U+2581
    // in front of text that already starts with a space, unlike SentencePiece's dummy prefix.
    tokenizer_files::writeLlama2Json(m_dir / "metaspace/tokenizer.json", modelFile, "metaspace");
    const auto metaspace = rs::loadTokenizerForModel(m_dir / "metaspace");
    // Older files: Metaspace with add_prefix_space, which also splits the text at every space.
    tokenizer_files::writeLlama2Json(m_dir / "legacy/tokenizer.json", modelFile, "legacy");
    const auto legacy = rs::loadTokenizerForModel(m_dir / "legacy");
    size_t compared = 0;
    for (const auto& line : lines) {
        const Ids ids = toIds(sp.EncodeAsIds(line));
        if (line.starts_with(' ')) {
            continue;
        }
        QCOMPARE(metaspace->encode(line), ids);
        QCOMPARE(metaspace->decode(ids), line);
        if (line.find("  ") == std::string::npos) {
            QCOMPARE(legacy->encode(line), ids);
            ++compared;
        }
    }
    QVERIFY(compared > 20);
    QCOMPARE(model->encode(" Hello"), (Ids{29871, 15043}));
    QCOMPARE(metaspace->encode(" Hello"), Ids{15043});
    QCOMPARE(legacy->encode(" Hello"), Ids{15043});
}

void TestTokenizer::stories260K() {
    const auto tokenizer = rs::loadTokenizerForModel(rs::test::stories260K());
    QCOMPARE(tokenizer->describe(), std::string("tokenizer.bin (llama2.c, 512 tokens)"));
    QCOMPARE(tokenizer->vocabSize(), 512);
    QCOMPARE(tokenizer->bosId(), std::optional<int32_t>(1));
    // Ids from llama2.c's encode (" Once", " upon", " a", " time").
    const Ids once{403, 407, 261, 378};
    QCOMPARE(tokenizer->encode("Once upon a time"), once);
    QCOMPARE(tokenizer->decode(once), std::string("Once upon a time"));
    QCOMPARE(tokenizer->decodeNext(1, 403), std::string("Once"));
    QCOMPARE(tokenizer->decodeNext(403, 407), std::string(" upon"));
    // "é" is a piece, "ö" and "☃" fall back to bytes (id = byte + 3).
    const std::string accents = "h\xC3\xA9llo w\xC3\xB6rld \xE2\x98\x83";
    const Ids accentIds{270, 485, 306, 414, 263, 198, 185, 420, 341, 410, 229, 155, 134};
    QCOMPARE(tokenizer->encode(accents), accentIds);
    QCOMPARE(tokenizer->decode(accentIds), accents);

    const std::string sample =
        rs::readTextFile(rs::test::stories260K() / "reference/greedy-256.txt");
    const Ids ids = tokenizer->encode(sample);
    QVERIFY(ids.size() > 200);
    QCOMPARE(tokenizer->decode(ids), sample);
    QCOMPARE(streamDecode(*tokenizer, ids, 1), sample);
    const Ids first(ids.begin(), ids.begin() + 64);
    const std::string prefix = tokenizer->decode(first);
    QVERIFY(sample.starts_with(prefix));
    QCOMPARE(tokenizer->encode(prefix), first);
    QCOMPARE(tokenizer->decode(tokenizer->encode(prefix)), prefix);
}

void TestTokenizer::badInput() {
    const auto empty = m_dir / "empty";
    fs::create_directories(empty);
    QCOMPARE(errorOf([&] { rs::loadTokenizerForModel(empty); }),
             empty.string() + ": no tokenizer (looked for tokenizer.json, tokenizer.model, "
                              "tokenizer.bin, vocab.json)");

    // tokenizer.bin cut inside a token, and cut between tokens where config.json gives the count.
    const std::string tok512 = rs::tok::readBinaryFile(rs::test::stories260K() / "tokenizer.bin");
    const auto cutDir = m_dir / "cut";
    fs::create_directories(cutDir);
    std::ofstream(cutDir / "tokenizer.bin", std::ios::binary) << tok512.substr(0, 3001);
    const std::string cutInside = errorOf([&] { rs::loadTokenizerFile(cutDir / "tokenizer.bin"); });
    QVERIFY2(contains(cutInside, (cutDir / "tokenizer.bin").string() + ": truncated: token "),
             cutInside.c_str());
    size_t boundary = 4;
    for (int token = 0; token < 300; ++token) {
        int32_t length = 0;
        std::memcpy(&length, tok512.data() + boundary + 4, 4);
        boundary += 8 + length;
    }
    std::ofstream(cutDir / "tokenizer.bin", std::ios::binary) << tok512.substr(0, boundary);
    std::ofstream(cutDir / "config.json") << R"({"vocab_size": 512})";
    QCOMPARE(errorOf([&] { rs::loadTokenizerForModel(cutDir); }),
             (cutDir / "tokenizer.bin").string() +
                 ": truncated: it holds 300 tokens, the model's vocab_size is 512");
    std::ofstream(cutDir / "tokenizer.bin", std::ios::binary) << "ab";
    QCOMPARE(errorOf([&] { rs::loadTokenizerFile(cutDir / "tokenizer.bin"); }),
             (cutDir / "tokenizer.bin").string() +
                 ": too short for a llama2.c tokenizer (2 bytes)");

    const auto jsonFile = m_dir / "bad/tokenizer.json";
    fs::create_directories(jsonFile.parent_path());
    const auto rejectJson = [&](const std::string& content) {
        std::ofstream(jsonFile, std::ios::binary) << content;
        return errorOf([&] { rs::loadTokenizerForModel(jsonFile.parent_path()); });
    };
    const std::string prefix = jsonFile.string() + ": ";
    QCOMPARE(rejectJson("{\"model\": {\"type\": \"BPE\", "),
             prefix + "not valid JSON (parse error at byte 27)");
    QCOMPARE(rejectJson(R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})"),
             prefix + "model type \"Unigram\" is not supported (only BPE)");
    QCOMPARE(rejectJson(R"({"added_tokens": []})"),
             prefix + "not a Hugging Face tokenizer.json (no \"model\" object)");
    const std::string unknownSplit =
        rejectJson(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer":
        {"type": "Split", "pattern": {"Regex": "\\p{L}+"}, "behavior": "Isolated"}})");
    QVERIFY2(
        contains(unknownSplit, prefix + "pre-tokenizer Split pattern \"\\\\p{L}+\" is not one"),
        unknownSplit.c_str());
    QCOMPARE(rejectJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]},
        "decoder": {"type": "ByteLevel"}})"),
             prefix + "merge 0 (\"a\" \"b\") uses or makes a piece that is not in the vocabulary");
    QCOMPARE(rejectJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
        "pre_tokenizer": {"type": "Whitespace"}})"),
             prefix + "pre-tokenizer \"Whitespace\" is not supported");
    QVERIFY(contains(rejectJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})"),
                     prefix + "BPE tokenizer is neither byte-level"));
    QVERIFY(contains(rejectJson(R"({"model": {"type": "BPE", "vocab": {"a": "zero"}}})"),
                     prefix + "unexpected tokenizer.json structure"));

    const auto modelFile = m_dir / "bad/tokenizer.model";
    std::ofstream(modelFile, std::ios::binary) << "this is not a protobuf";
    QVERIFY(contains(errorOf([&] { rs::loadTokenizerFile(modelFile); }),
                     modelFile.string() + ": not a SentencePiece model"));
    QCOMPARE(errorOf([&] { rs::loadTokenizerFile(m_dir / "bad/notes.txt"); }),
             (m_dir / "bad/notes.txt").string() +
                 ": unknown tokenizer file type (expected tokenizer.json, tokenizer.model, "
                 "tokenizer.bin or vocab.json)");
    QCOMPARE(errorOf([&] { rs::loadTokenizerFile(m_dir / "bad/missing.bin"); }),
             (m_dir / "bad/missing.bin").string() + ": no such file");

    const auto stories = rs::loadTokenizerForModel(rs::test::stories260K());
    QCOMPARE(errorOf([&] {
                 stories->decode(Ids{5, 600});
             }),
             (rs::test::stories260K() / "tokenizer.bin").string() +
                 ": token id 600 is outside the vocabulary (512 tokens)");
}

// Whole wiki.test.raw (1.3 MB) in one call per tokenizer: the formats must agree on all of it, and
// the timings are printed (measured, not asserted).
void TestTokenizer::encodeSpeed() {
    const std::string& text = wikiText();
    const auto gpt2Dir = rs::test::dataPath("tokenizers/gpt2");
    const auto gpt2 = rs::loadGpt2VocabMerges(gpt2Dir / "vocab.json", gpt2Dir / "merges.txt");
    tokenizer_files::writeGpt2Json(m_dir / "speed_gpt2/tokenizer.json", gpt2Dir, false);
    const auto gpt2Json = rs::loadTokenizerForModel(m_dir / "speed_gpt2");
    const auto modelFile = rs::test::dataPath("tokenizers/llama2/tokenizer.model");
    const auto model = rs::loadSentencePieceModel(modelFile);
    const auto bin =
        rs::loadLlama2cTokenizer(rs::test::dataPath("tokenizers/llama2/tokenizer.bin"));
    tokenizer_files::writeLlama2Json(m_dir / "speed_llama2/tokenizer.json", modelFile,
                                     "normalizer");
    const auto llamaJson = rs::loadTokenizerForModel(m_dir / "speed_llama2");

    std::vector<Ids> results;
    for (const auto* t : {gpt2.get(), gpt2Json.get(), model.get(), bin.get(), llamaJson.get()}) {
        const auto start = std::chrono::steady_clock::now();
        results.push_back(t->encode(text));
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        qInfo("%s: %zu tokens in %.3f s (%.1f MB/s)", t->describe().c_str(), results.back().size(),
              seconds, text.size() / seconds / 1e6);
    }
    sentencepiece::SentencePieceProcessor sp;
    QVERIFY(sp.Load(modelFile.string()).ok());
    const auto start = std::chrono::steady_clock::now();
    const Ids reference = toIds(sp.EncodeAsIds(text));
    qInfo("libsentencepiece: %zu tokens in %.3f s", reference.size(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    QCOMPARE(results[1], results[0]);
    QCOMPARE(results[2], reference);
    QCOMPARE(results[3], reference);
    QCOMPARE(results[4], reference);
    QCOMPARE(gpt2->decode(results[0]), text);
    QCOMPARE(bin->decode(results[3]), text);
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
