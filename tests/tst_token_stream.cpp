// Texts read and tokenized as a stream: in parts with the tokens of one whole encoding, only as
// far as the tokens asked for, line by line with UTF-8 checked across block boundaries.
#include "eval/token_stream.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_files.h"
#include "util/error.h"
#include "util/text.h"
#include "util/text_lines.h"

#include <QTest>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Enough text for a few hundred parts of kPartBytes, so every cut rule meets real text.
constexpr size_t kTextBytes = 160 * 1024;
constexpr size_t kPartBytes = 512;

const std::string& wikiText() {
    static const std::string text = [] {
        std::string all = rs::readTextFile(rs::test::dataPath("text/wikitext-2/wiki.test.raw"));
        return all.substr(0, all.find('\n', kTextBytes) + 1);
    }();
    return text;
}

const std::string& storiesText() {
    static const std::string text =
        rs::readTextFile(rs::test::dataPath("text/tinystories/calib.txt"));
    return text;
}

void writeFile(const fs::path& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

} // namespace

class TestTokenStream : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void partsEncodeLikeTheWholeText_data();
    void partsEncodeLikeTheWholeText();
    void readingStopsAtTheTokensAskedFor();
    void protocolOfAFile();
    void linesAcrossBlocks();
    void windowsLineEndsReadAsNewlines();
    void badTextFiles();

private:
    std::unique_ptr<rs::Tokenizer> tokenizer(const QString& kind);
    fs::path m_dir;
};

void TestTokenStream::initTestCase() {
    m_dir = fs::temp_directory_path() / ("rankscope_tst_token_stream_" + std::to_string(getpid()));
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    writeFile(m_dir / "wiki.txt", wikiText());
    writeFile(m_dir / "stories.txt", storiesText());
}

void TestTokenStream::cleanupTestCase() {
    fs::remove_all(m_dir);
}

std::unique_ptr<rs::Tokenizer> TestTokenStream::tokenizer(const QString& kind) {
    const auto gpt2 = rs::test::dataPath("tokenizers/gpt2");
    const auto llama2 = rs::test::dataPath("tokenizers/llama2");
    const fs::path dir = m_dir / kind.toStdString();
    fs::create_directories(dir);
    if (kind == "stories260K.bin")
        return rs::loadLlama2cTokenizer(rs::test::dataPath("models/stories260K/tokenizer.bin"));
    if (kind == "llama2.bin")
        return rs::loadLlama2cTokenizer(llama2 / "tokenizer.bin");
    if (kind == "llama2.model")
        return rs::loadSentencePieceModel(llama2 / "tokenizer.model");
    if (kind == "gpt2 vocab+merges")
        return rs::loadGpt2VocabMerges(gpt2 / "vocab.json", gpt2 / "merges.txt");
    if (kind == "gpt2.json") {
        tokenizer_files::writeGpt2Json(dir / "tokenizer.json", gpt2, false);
    } else if (kind == "llama3-split.json") {
        const json split = {
            {"type", "Sequence"},
            {"pretokenizers",
             {{{"type", "Split"},
               {"pattern", {{"Regex", tokenizer_files::llama3Regex()}}},
               {"behavior", "Isolated"},
               {"invert", false}},
              {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
        tokenizer_files::writeGpt2JsonWithPreTokenizer(dir / "tokenizer.json", gpt2, split);
    } else {
        // "normalizer.json", "metaspace.json", "legacy.json": Llama 2's three layouts.
        const std::string pipeline = kind.section('.', 0, 0).toStdString();
        tokenizer_files::writeLlama2Json(dir / "tokenizer.json", llama2 / "tokenizer.model",
                                         pipeline);
    }
    return rs::loadHfTokenizerJson(dir / "tokenizer.json");
}

void TestTokenStream::partsEncodeLikeTheWholeText_data() {
    QTest::addColumn<QString>("kind");
    for (const char* kind :
         {"stories260K.bin", "llama2.bin", "llama2.model", "gpt2 vocab+merges", "gpt2.json",
          "llama3-split.json", "normalizer.json", "metaspace.json", "legacy.json"})
        QTest::newRow(kind) << kind;
}

// Every format RankScope reads splits at words, and the parts give exactly the tokens of the
// whole text encoded at once (the protocol's definition), for WikiText and TinyStories alike.
void TestTokenStream::partsEncodeLikeTheWholeText() {
    QFETCH(QString, kind);
    const auto tok = tokenizer(kind);
    QVERIFY2(tok->splitsAtWords(), qPrintable(kind + " keeps texts whole"));

    const rs::TokenStream whole = rs::buildTokenStream(wikiText(), rs::Protocol::WikiText, *tok);
    const rs::TokenStream parts = rs::readTokenStream(m_dir / "wiki.txt", rs::Protocol::WikiText,
                                                      *tok, {.partBytes = kPartBytes});
    QCOMPARE(parts.tokens.size(), whole.tokens.size());
    QVERIFY(parts.tokens == whole.tokens);
    QCOMPARE(parts.documents, whole.documents);
    QVERIFY(parts.wholeText);
    QCOMPARE(rs::countTokens(m_dir / "wiki.txt", rs::Protocol::WikiText, *tok),
             static_cast<int64_t>(whole.tokens.size()));

    const rs::TokenStream stories =
        rs::buildTokenStream(storiesText(), rs::Protocol::TinyStories, *tok);
    const rs::TokenStream read =
        rs::readTokenStream(m_dir / "stories.txt", rs::Protocol::TinyStories, *tok, {});
    QVERIFY(read.tokens == stories.tokens);
    QCOMPARE(read.documents, stories.documents);
}

// With a limit, the stream is the whole text's first tokens and reading ends soon after them:
// the progress reports no more bytes than the parts and blocks those tokens needed.
void TestTokenStream::readingStopsAtTheTokensAskedFor() {
    const auto tok = tokenizer("stories260K.bin");
    // A large WikiText-style file: wiki.test.raw's first part many times over (24 MiB).
    const fs::path large = m_dir / "large.txt";
    {
        std::ofstream out(large, std::ios::binary);
        for (size_t written = 0; written < (24u << 20); written += wikiText().size())
            out << wikiText();
    }
    const rs::TokenStream whole = rs::buildTokenStream(wikiText(), rs::Protocol::WikiText, *tok);
    for (const int64_t asked : {int64_t(2), int64_t(1025), int64_t(20000)}) {
        int64_t bytesRead = 0;
        rs::JobContext job;
        job.progress = [&](const rs::ProgressEvent& e) {
            QCOMPARE(e.stage, std::string("tokenize"));
            bytesRead = e.done;
        };
        const rs::TokenStream s =
            rs::readTokenStream(large, rs::Protocol::WikiText, *tok, {.maxTokens = asked}, job);
        QCOMPARE(static_cast<int64_t>(s.tokens.size()), asked);
        QVERIFY(std::equal(s.tokens.begin(), s.tokens.end(), whole.tokens.begin()));
        QVERIFY(!s.wholeText);
        QVERIFY2(bytesRead > 0 && bytesRead <= (2 << 20), qPrintable(QString::number(bytesRead)));
    }
    // Stories: whole stories up to the limit, cut to it.
    const rs::TokenStream stories =
        rs::buildTokenStream(storiesText(), rs::Protocol::TinyStories, *tok);
    const rs::TokenStream s = rs::readTokenStream(m_dir / "stories.txt", rs::Protocol::TinyStories,
                                                  *tok, {.maxTokens = 3000});
    QCOMPARE(s.tokens.size(), size_t(3000));
    QVERIFY(std::equal(s.tokens.begin(), s.tokens.end(), stories.tokens.begin()));
    QVERIFY(s.documents < stories.documents);
    // A limit beyond the text reads all of it.
    const rs::TokenStream all = rs::readTokenStream(
        m_dir / "stories.txt", rs::Protocol::TinyStories, *tok, {.maxTokens = 100'000'000});
    QVERIFY(all.tokens == stories.tokens);
    QVERIFY(all.wholeText);
}

// The separator line is found wherever it is: past the first read block, and not inline or
// inside a long line; a text without it is WikiText.
void TestTokenStream::protocolOfAFile() {
    QCOMPARE(rs::detectProtocolOfFile(m_dir / "stories.txt"), rs::Protocol::TinyStories);
    QCOMPARE(rs::detectProtocolOfFile(m_dir / "wiki.txt"), rs::Protocol::WikiText);
    const std::string filler(3u << 20, 'a');
    writeFile(m_dir / "late.txt", filler + "\n  <|endoftext|> \nOne.\n");
    QCOMPARE(rs::detectProtocolOfFile(m_dir / "late.txt"), rs::Protocol::TinyStories);
    writeFile(m_dir / "inline.txt", "One <|endoftext|> two.\n" + filler + "<|endoftext|>\n");
    QCOMPARE(rs::detectProtocolOfFile(m_dir / "inline.txt"), rs::Protocol::WikiText);
    QCOMPARE(rs::detectProtocol(std::string_view("x\n<|endoftext|>")), rs::Protocol::TinyStories);
}

// Lines arrive whole or in pieces that join to the text, with multi-byte characters split across
// blocks of any size, and the last line without '\n' still ends.
void TestTokenStream::linesAcrossBlocks() {
    const std::string text = "Grüße — 東京\n\nline three ✓\nno newline 𝄞";
    writeFile(m_dir / "utf8.txt", text);
    for (const size_t block : {size_t(1), size_t(2), size_t(5), size_t(7), size_t(64)}) {
        std::string joined;
        std::vector<std::string> lines(1);
        rs::readTextLines(
            m_dir / "utf8.txt",
            [&](std::string_view piece, bool ends) {
                joined += piece;
                lines.back() += piece;
                if (ends)
                    lines.emplace_back();
                return true;
            },
            {}, "read", block);
        QCOMPARE(joined, text);
        QCOMPARE(lines, (std::vector<std::string>{"Grüße — 東京\n", "\n", "line three ✓\n",
                                                  "no newline 𝄞", ""}));
    }
}

// A text saved with "\r\n" line ends (or a byte-order mark) gives the tokens of the same text
// with "\n" ones (without the mark), and a "\r\n" never arrives split between pieces, whatever
// the block size.
void TestTokenStream::windowsLineEndsReadAsNewlines() {
    const auto tok = tokenizer("stories260K.bin");
    std::string crlf;
    for (const char c : storiesText().substr(0, 20000)) {
        if (c == '\n')
            crlf += '\r';
        crlf += c;
    }
    writeFile(m_dir / "crlf.txt", crlf);
    const std::string lf = storiesText().substr(0, 20000);
    writeFile(m_dir / "bom.txt", "\xEF\xBB\xBF" + lf);
    for (const rs::Protocol protocol : {rs::Protocol::TinyStories, rs::Protocol::WikiText}) {
        const auto expected = rs::buildTokenStream(lf, protocol, *tok).tokens;
        // A byte-order mark is no text either.
        QVERIFY(rs::readTokenStream(m_dir / "bom.txt", protocol, *tok, {}).tokens == expected);
        QVERIFY(
            rs::readTokenStream(m_dir / "crlf.txt", protocol, *tok, {.partBytes = 300}).tokens ==
            expected);
        QVERIFY(rs::buildTokenStream(crlf, protocol, *tok).tokens == expected);
    }
    for (const size_t block : {size_t(1), size_t(2), size_t(3), size_t(1000)}) {
        bool split = false;
        rs::readTextLines(
            m_dir / "crlf.txt",
            [&](std::string_view piece, bool ends) {
                split = split || (!ends && piece.ends_with('\r')) || (ends && piece == "\n");
                return true;
            },
            {}, "read", block);
        QVERIFY2(!split, qPrintable(QString::number(block)));
    }
}

void TestTokenStream::badTextFiles() {
    const auto tok = tokenizer("stories260K.bin");
    const auto errorOf = [&](const fs::path& path) {
        return QString::fromStdString(rs::test::errorOf(
            [&] { rs::readTokenStream(path, rs::Protocol::WikiText, *tok, {}); }));
    };
    // The bad byte lies past the first block: its offset is that in the file.
    std::string bad(1u << 20, 'a');
    bad += "\nok \xC3\x28 rest\n";
    writeFile(m_dir / "bad.txt", bad);
    QCOMPARE(errorOf(m_dir / "bad.txt"),
             QString::fromStdString((m_dir / "bad.txt").string() +
                                    ": not valid UTF-8 (first bad byte at offset " +
                                    std::to_string((1u << 20) + 4) + ")"));
    // A NUL byte is valid UTF-8 but no text holds one: a binary file read by mistake.
    writeFile(m_dir / "nul.txt", std::string("once upon\n a\0time\n", 18));
    QCOMPARE(errorOf(m_dir / "nul.txt"),
             QString::fromStdString((m_dir / "nul.txt").string() +
                                    ": holds a NUL byte at offset 12 (a binary file, or a damaged "
                                    "text?)"));
    // A character cut off by the end of the file.
    writeFile(m_dir / "cut.txt", "text \xE6\x9D");
    QVERIFY(errorOf(m_dir / "cut.txt").contains("not valid UTF-8 (first bad byte at offset 5)"));
    writeFile(m_dir / "empty.txt", "");
    QVERIFY(errorOf(m_dir / "empty.txt").endsWith("the text file is empty"));
    writeFile(m_dir / "blank.txt", "\n\n");
    QVERIFY(rs::test::errorOf([&] {
                rs::readTokenStream(m_dir / "blank.txt", rs::Protocol::TinyStories, *tok, {});
            }).ends_with("blank.txt: holds no text to evaluate (only blank lines)"));
    writeFile(m_dir / "spaces.txt", "\n  \n\t\n \n");
    QVERIFY(errorOf(m_dir / "spaces.txt").endsWith("holds no text to evaluate (only blank lines)"));
    QVERIFY(errorOf(m_dir).contains("is a directory"));
    QVERIFY(errorOf(m_dir / "missing.txt").endsWith("missing.txt: no such text file"));
}

QTEST_GUILESS_MAIN(TestTokenStream)
#include "tst_token_stream.moc"
