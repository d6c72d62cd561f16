#include "util/error.h"
#include "util/interruptible.h"
#include "util/lists.h"
#include "util/memory.h"
#include "util/progress.h"
#include "util/text.h"

#include <QTest>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

class TestUtil : public QObject {
    Q_OBJECT
private slots:
    void utf8Validation();
    void readTextFileRejectsBadInput();
    void cancelTokenIsShared();
    void cancelScopesNest();
    void interruptibleWorkStopsTheCallerAtOnce();
    void interruptibleWorkPassesResultsAndErrors();
    void formatting();
    void integerLists_data();
    void integerLists();
    void percentLists_data();
    void percentLists();
    void freedHeapLeavesResidentSet();
};

void TestUtil::utf8Validation() {
    QCOMPARE(rs::findInvalidUtf8("plain ascii"), std::string::npos);
    QCOMPARE(rs::findInvalidUtf8("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
             std::string::npos);
    QCOMPARE(rs::findInvalidUtf8("ab\xFF"), size_t(2));        // invalid lead byte
    QCOMPARE(rs::findInvalidUtf8("ab\xC3"), size_t(2));        // truncated sequence
    QCOMPARE(rs::findInvalidUtf8("\xC0\xAF"), size_t(0));      // overlong '/'
    QCOMPARE(rs::findInvalidUtf8("x\xED\xA0\x80"), size_t(1)); // UTF-16 surrogate
}

void TestUtil::readTextFileRejectsBadInput() {
    const auto dir = std::filesystem::temp_directory_path() / "rankscope_tst_util";
    std::filesystem::create_directories(dir);
    const auto empty = dir / "empty.txt";
    const auto latin1 = dir / "latin1.txt";
    std::ofstream(empty).close();
    std::ofstream(latin1) << "caf\xE9 au lait";
    try {
        rs::readTextFile(empty);
        QFAIL("empty file accepted");
    } catch (const rs::Error& e) {
        QVERIFY(std::string(e.what()).find("empty.txt: the text file is empty") !=
                std::string::npos);
    }
    try {
        rs::readTextFile(latin1);
        QFAIL("non-UTF-8 file accepted");
    } catch (const rs::Error& e) {
        QVERIFY(std::string(e.what()).find("not valid UTF-8 (first bad byte at offset 3)") !=
                std::string::npos);
    }
    QVERIFY_THROWS_EXCEPTION(rs::Error, rs::readTextFile(dir / "missing.txt"));
    std::filesystem::remove_all(dir);
}

void TestUtil::cancelTokenIsShared() {
    rs::CancelToken token;
    const rs::CancelToken copy = token;
    QVERIFY(!copy.isCancelled());
    token.cancel();
    QVERIFY(copy.isCancelled());
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, copy.throwIfCancelled());
}

void TestUtil::cancelScopesNest() {
    rs::cancellationPoint(); // no scope on this thread: nothing to honour
    QVERIFY(!rs::cancellationPossible());
    rs::CancelToken outer;
    rs::CancelToken inner;
    {
        const rs::CancelScope outerScope(outer);
        outer.cancel();
        {
            const rs::CancelScope innerScope(inner);
            QVERIFY(rs::cancellationPossible());
            QVERIFY(!rs::cancellationRequested()); // the innermost token is the one polled
            rs::cancellationPoint();
            inner.cancel();
            QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::cancellationPoint());
        }
        QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::cancellationPoint());
    }
    QVERIFY(!rs::cancellationPossible());
    rs::cancellationPoint();
}

void TestUtil::interruptibleWorkStopsTheCallerAtOnce() {
    // The work cannot stop by itself (like one LAPACK call); it runs until the test releases it.
    auto release = std::make_shared<std::atomic<bool>>(false);
    auto finished = std::make_shared<std::atomic<bool>>(false);
    rs::CancelToken token;
    const rs::CancelScope scope(token);
    std::thread canceller([token] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        token.cancel();
    });
    const auto started = std::chrono::steady_clock::now();
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::runInterruptible([release, finished] {
                                 while (!release->load())
                                     std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                 finished->store(true);
                                 return 1;
                             }));
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    canceller.join();
    QVERIFY2(waited < 1.0, qPrintable(QString("the caller stopped after %1 s").arg(waited)));
    QVERIFY(!finished->load()); // the caller did not wait for the work
    release->store(true);
    rs::waitForAbandonedWork();
    QVERIFY(finished->load()); // ... which ran to its end, joined
}

void TestUtil::interruptibleWorkPassesResultsAndErrors() {
    QCOMPARE(rs::runInterruptible([] { return 7; }), 7); // inline: no scope
    const rs::CancelScope scope(rs::CancelToken{});
    QCOMPARE(rs::runInterruptible([] { return std::string("band"); }), std::string("band"));
    try {
        rs::runInterruptible([]() -> int { throw rs::Error("work.bin: truncated"); });
        QFAIL("the work's error was lost");
    } catch (const rs::Error& e) {
        QCOMPARE(std::string(e.what()), std::string("work.bin: truncated"));
    }
}

void TestUtil::formatting() {
    QCOMPARE(rs::formatCount(260032), std::string("260,032"));
    QCOMPARE(rs::formatCount(-1000), std::string("-1,000"));
    QCOMPARE(rs::formatCount(999), std::string("999"));
    QCOMPARE(rs::formatBytes(512), std::string("512 B"));
    QCOMPARE(rs::formatBytes(1536), std::string("1.5 KiB"));
}

void TestUtil::integerLists_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("parsed"); // the values joined by '|', or the error's tail
    QTest::newRow("one") << "8"
                         << "8";
    QTest::newRow("blanks around values") << " 4, 8 ,16 "
                                          << "4|8|16";
    QTest::newRow("empty") << ""
                           << "--ranks: no value given";
    QTest::newRow("only blanks") << "  "
                                 << "--ranks: no value given";
    QTest::newRow("empty value") << "4,,8"
                                 << "--ranks: empty value in '4,,8'";
    QTest::newRow("trailing comma") << "4,8,"
                                    << "--ranks: empty value in '4,8,'";
    QTest::newRow("not a number") << "4,x"
                                  << "--ranks: 'x' is not a whole number";
    QTest::newRow("a fraction") << "4.5"
                                << "--ranks: '4.5' is not a whole number";
    QTest::newRow("inner blank") << "4 8"
                                 << "--ranks: '4 8' is not a whole number";
    QTest::newRow("too large") << "99999999999999999999"
                               << "--ranks: '99999999999999999999' is not a whole number";
    QTest::newRow("below the minimum") << "4,0"
                                       << "--ranks: '0' is below 1";
    QTest::newRow("twice") << "4, 8,4"
                           << "--ranks: '4' is given twice";
}

void TestUtil::integerLists() {
    QFETCH(QString, text);
    QFETCH(QString, parsed);
    std::string got;
    try {
        for (int64_t n : rs::parseIntegerList(text.toStdString(), "--ranks", 1))
            got += (got.empty() ? "" : "|") + std::to_string(n);
    } catch (const rs::Error& e) {
        got = e.what();
    }
    QCOMPARE(QString::fromStdString(got), parsed);
}

void TestUtil::percentLists_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("parsed");
    QTest::newRow("two") << "20, 40"
                         << "20|40";
    QTest::newRow("fractions") << "12.5"
                               << "12.5";
    QTest::newRow("zero") << "0"
                          << "--reduction: '0' is not a percentage between 0 and 100";
    QTest::newRow("hundred") << "100"
                             << "--reduction: '100' is not a percentage between 0 and 100";
    QTest::newRow("not a number") << "20%"
                                  << "--reduction: '20%' is not a number";
    QTest::newRow("nan") << "nan"
                         << "--reduction: 'nan' is not a percentage between 0 and 100";
    QTest::newRow("empty value") << "20,,40"
                                 << "--reduction: empty value in '20,,40'";
    QTest::newRow("twice") << "20, 20.0"
                           << "--reduction: '20.0' is given twice";
}

void TestUtil::percentLists() {
    QFETCH(QString, text);
    QFETCH(QString, parsed);
    QString got;
    try {
        for (double p : rs::parsePercentList(text.toStdString(), "--reduction"))
            got += (got.isEmpty() ? "" : "|") + QString::number(p);
    } catch (const rs::Error& e) {
        got = QString::fromUtf8(e.what());
    }
    QCOMPARE(got, parsed);
}

QTEST_GUILESS_MAIN(TestUtil)
void TestUtil::freedHeapLeavesResidentSet() {
#if defined(__SANITIZE_ADDRESS__)
    QSKIP("AddressSanitizer's allocator keeps freed memory in quarantine; what glibc's "
          "malloc_trim() returns is checked in the ordinary build");
#endif
    // 96 MB in chunks small enough to come from the heap, all freed but the last, which pins the
    // top of the heap so that free() alone cannot shrink it.
    std::vector<std::unique_ptr<char[]>> chunks;
    for (int i = 0; i < 1536; ++i) {
        chunks.emplace_back(new char[64 * 1024]);
        std::memset(chunks.back().get(), 1, 64 * 1024);
    }
    for (size_t i = 0; i + 1 < chunks.size(); ++i)
        chunks[i].reset();
    const int64_t before = rs::anonymousResidentBytes();
    QVERIFY(before > 96 * 1024 * 1024);
    rs::returnFreedHeap();
    const int64_t after = rs::anonymousResidentBytes();
    QVERIFY2(before - after > 64 * 1024 * 1024,
             qPrintable(QString("RssAnon %1 MB -> %2 MB").arg(before >> 20).arg(after >> 20)));
}

#include "tst_util.moc"
