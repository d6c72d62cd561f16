#include "eval/perplexity.h"
#include "pipeline/session.h"
#include "test_session.h"
#include "testdata.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text.h"

#include <QTest>
#include <filesystem>
#include <fstream>

namespace {

// The pinned reference figure (PROVENANCE.md): 3.6316 over 47,616 predicted tokens; the
// acceptance band is 0.5 %.
constexpr double kEvalReferencePerplexity = 3.6316;
constexpr double kSampleReferencePerplexity = 3.70;
constexpr double kRelativeBand = 0.005;

std::shared_ptr<rs::ModelSession> openStories() {
    static std::shared_ptr<rs::ModelSession> session = rs::test::openDemo();
    return session;
}

std::filesystem::path writeTemp(const std::string& name, const std::string& bytes) {
    const auto dir = std::filesystem::temp_directory_path() / "rankscope_tst_perplexity";
    std::filesystem::create_directories(dir);
    const auto path = dir / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

} // namespace

class TestPerplexity : public QObject {
    Q_OBJECT
private slots:
    void tinyStoriesEvalMatchesReference();
    void tinyStoriesSampleMatchesReference();
    void protocolDetection();
    void tinyStoriesStreamHasBosPerStory();
    void wikiTextWindows();
    void maxWindowsLimitsWork();
    void maxWindowsLimitsTheTextRead();
    void dtypeTheCpuCannotComputeIsNamed();
    void cancellationStopsBetweenBatches();
    void badTextIsRejectedWithFileName();
    void cleanupTestCase();
};

void TestPerplexity::tinyStoriesEvalMatchesReference() {
    const rs::PerplexityResult r =
        rs::evaluateTextFile(*openStories(), rs::test::dataPath("text/tinystories/eval.txt"), {});
    QCOMPARE(r.protocol, std::string("tinystories"));
    QCOMPARE(r.predictedTokens, int64_t(47616));
    QCOMPARE(r.windows, int64_t(93));
    QCOMPARE(r.seqLen, int64_t(512));
    QVERIFY2(std::abs(r.perplexity / kEvalReferencePerplexity - 1.0) < kRelativeBand,
             qPrintable(QString::number(r.perplexity, 'f', 5)));
}

void TestPerplexity::tinyStoriesSampleMatchesReference() {
    const rs::PerplexityResult r =
        rs::evaluateTextFile(*openStories(), rs::test::dataPath("text/tinystories/sample.txt"), {});
    QVERIFY2(std::abs(r.perplexity / kSampleReferencePerplexity - 1.0) < 0.01,
             qPrintable(QString::number(r.perplexity, 'f', 5)));
}

void TestPerplexity::protocolDetection() {
    QCOMPARE(rs::detectProtocol("One.\n<|endoftext|>\nTwo.\n"), rs::Protocol::TinyStories);
    QCOMPARE(rs::detectProtocol(" = Title = \n text <|endoftext|> inline\n"),
             rs::Protocol::WikiText);
    QCOMPARE(rs::parseProtocol("wikitext"), std::optional(rs::Protocol::WikiText));
    QVERIFY(!rs::parseProtocol("c4"));
}

void TestPerplexity::tinyStoriesStreamHasBosPerStory() {
    const rs::Tokenizer& tok = openStories()->tokenizer();
    const rs::TokenStream s = rs::buildTokenStream(
        "  Tom ran.  \n<|endoftext|>\n\nSue sat.\n<|endoftext|>\n", rs::Protocol::TinyStories, tok);
    QCOMPARE(s.documents, int64_t(2));
    std::vector<int32_t> expected{1};
    for (int32_t id : tok.encode("Tom ran."))
        expected.push_back(id);
    expected.push_back(1);
    for (int32_t id : tok.encode("Sue sat."))
        expected.push_back(id);
    QCOMPARE(s.tokens, expected);
}

void TestPerplexity::wikiTextWindows() {
    const rs::Tokenizer& tok = openStories()->tokenizer();
    const rs::TokenStream s = rs::buildTokenStream(" a\n\n b\n", rs::Protocol::WikiText, tok);
    std::vector<int32_t> expected{1};
    for (int32_t id : tok.encode(" a\n\n\n\n\n\n b\n")) // " a\n" "\n\n" "\n" "\n\n" " b\n"
        expected.push_back(id);
    QCOMPARE(s.tokens, expected);

    rs::EvalOptions options;
    options.protocol = rs::Protocol::WikiText;
    options.seqLen = 128;
    options.maxWindows = 6;
    const rs::PerplexityResult r = rs::evaluateTextFile(
        *openStories(), rs::test::dataPath("text/wikitext-2/wiki.test.raw"), options);
    QCOMPARE(r.protocol, std::string("wikitext"));
    QCOMPARE(r.windows, int64_t(6));
    QCOMPARE(r.predictedTokens, int64_t(6 * 127));
    // A story model on encyclopaedia text: finite, and far worse than on its own domain.
    QVERIFY(std::isfinite(r.perplexity) && r.perplexity > 20.0);
}

void TestPerplexity::maxWindowsLimitsWork() {
    rs::EvalOptions options;
    options.maxWindows = 3;
    options.batchSize = 2;
    int reports = 0;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "evaluate")
            ++reports;
    };
    const rs::PerplexityResult r = rs::evaluateTextFile(
        *openStories(), rs::test::dataPath("text/tinystories/eval.txt"), options, job);
    QCOMPARE(r.windows, int64_t(3));
    QCOMPARE(r.predictedTokens, int64_t(3 * 512));
    // The start, then two batches through each of the 5 blocks and through the output head.
    QCOMPARE(reports, 1 + (5 + 1) * 2);
}

// A large text evaluated on a few windows is read only as far as those windows: the same
// perplexity as on a small file holding the same start, with at most a few MiB read.
void TestPerplexity::maxWindowsLimitsTheTextRead() {
    const std::string eval = rs::readTextFile(rs::test::dataPath("text/tinystories/eval.txt"));
    std::string large;
    while (large.size() < (16u << 20))
        large += eval;
    const auto path = writeTemp("large.txt", large);
    rs::EvalOptions options;
    options.maxWindows = 2;
    int64_t bytesRead = 0;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "tokenize")
            bytesRead = e.done;
    };
    const rs::PerplexityResult r = rs::evaluateTextFile(*openStories(), path, options, job);
    QVERIFY2(bytesRead > 0 && bytesRead <= (2 << 20), qPrintable(QString::number(bytesRead)));
    const rs::PerplexityResult small = rs::evaluateTextFile(
        *openStories(), rs::test::dataPath("text/tinystories/eval.txt"), options);
    QCOMPARE(r.windows, int64_t(2));
    QCOMPARE(r.perplexity, small.perplexity);
    QCOMPARE(r.streamTokens, int64_t(2 * 512 + 1));
}

// float16 runs as float32 on the CPU: the user is told so when the model opens, and the result
// is float32's, recorded as such.
void TestPerplexity::dtypeTheCpuCannotComputeIsNamed() {
    std::vector<std::string> warnings;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "warning")
            warnings.push_back(e.detail);
    };
    rs::OpenOptions options;
    options.dtype = "float16";
    const auto half = rs::ModelSession::open(rs::test::stories260K(), options, job);
    QCOMPARE(warnings.size(), size_t(1));
    QVERIFY2(warnings[0].find("--dtype float16 computes in float32 on cpu") != std::string::npos,
             warnings[0].c_str());
    QCOMPARE(half->computeDtype(), std::string("float32"));
    warnings.clear();
    rs::ModelSession::open(rs::test::stories260K(), {}, job);
    QVERIFY(warnings.empty());
}

void TestPerplexity::cancellationStopsBetweenBatches() {
    rs::EvalOptions options;
    options.batchSize = 1;
    rs::JobContext job;
    int64_t lastDone = 0;
    job.progress = [&](const rs::ProgressEvent& e) {
        lastDone = e.done;
        if (e.stage == "evaluate" && e.done == 2)
            job.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError,
                             rs::evaluateTextFile(*openStories(),
                                                  rs::test::dataPath("text/tinystories/eval.txt"),
                                                  options, job));
    QCOMPARE(lastDone, int64_t(2));
}

void TestPerplexity::badTextIsRejectedWithFileName() {
    const auto expectError = [](const std::filesystem::path& path, const std::string& problem) {
        try {
            rs::evaluateTextFile(*openStories(), path, {});
            QFAIL("accepted bad text");
        } catch (const rs::Error& e) {
            const std::string message = e.what();
            QVERIFY2(message.find(path.filename().string()) != std::string::npos, e.what());
            QVERIFY2(message.find(problem) != std::string::npos, e.what());
        }
    };
    expectError(writeTemp("empty.txt", ""), "empty");
    expectError(writeTemp("latin1.txt", "na\xEFve text"), "not valid UTF-8");
    expectError(writeTemp("short.txt", "Tiny.\n<|endoftext|>\n"), "too short for one window");
    expectError(writeTemp("separators.txt", "<|endoftext|>\n<|endoftext|>\n"), "no text");
}

void TestPerplexity::cleanupTestCase() {
    std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                                "rankscope_tst_perplexity");
}

QTEST_GUILESS_MAIN(TestPerplexity)
#include "tst_perplexity.moc"
