// Memory and time of reading a large evaluation text: a WikiText-style file of N MiB (wiki.test.raw
// repeated, default 200) tokenized by the demo model's tokenizer and by Llama 2's, each way in a
// process of its own so that each peak resident set is its own:
//   whole    the whole file in memory, encoded at once (how texts were read before streaming)
//   stream   read and encoded part by part, every token kept (an evaluation of all windows)
//   windows  read until 2 windows of 2048 tokens are there (eval --max-windows 2)
//   count    the whole file counted part by part (the dataset record)
// Usage: bench_text_stream [MiB]
#include "bench_common.h"
#include "eval/token_stream.h"
#include "tokenizer/tokenizer.h"
#include "util/text.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

constexpr int64_t kWindowTokens = 2 * 2048;

std::unique_ptr<rs::Tokenizer> loadTokenizer(const std::string& name) {
    if (name == "stories260K")
        return rs::loadLlama2cTokenizer(rs::bench::sharedData("models/stories260K/tokenizer.bin"));
    return rs::loadSentencePieceModel(rs::bench::sharedData("tokenizers/llama2/tokenizer.model"));
}

// One measurement, in this process: prints "tokens seconds peak_MiB baseline_MiB".
int measure(const std::string& mode, const std::string& tokenizerName, const fs::path& file) {
    const auto tokenizer = loadTokenizer(tokenizerName);
    const double baseline = rs::bench::peakRssMiB();
    const auto start = std::chrono::steady_clock::now();
    int64_t tokens = 0;
    if (mode == "whole") {
        const std::string text = rs::readTextFile(file);
        tokens = static_cast<int64_t>(
            rs::buildTokenStream(text, rs::Protocol::WikiText, *tokenizer).tokens.size());
    } else if (mode == "stream" || mode == "windows") {
        const int64_t limit = mode == "windows" ? kWindowTokens : 0;
        tokens = static_cast<int64_t>(
            rs::readTokenStream(file, rs::Protocol::WikiText, *tokenizer, {.maxTokens = limit})
                .tokens.size());
    } else {
        tokens = rs::countTokens(file, rs::Protocol::WikiText, *tokenizer);
    }
    std::printf("%lld %.2f %.1f %.1f\n", static_cast<long long>(tokens),
                rs::bench::secondsSince(start), rs::bench::peakRssMiB(), baseline);
    return 0;
}

fs::path writeLargeText(int64_t mib) {
    const std::string wiki =
        rs::readTextFile(rs::bench::sharedData("text/wikitext-2/wiki.test.raw"));
    const fs::path file =
        fs::temp_directory_path() / ("rankscope_bench_text_" + std::to_string(getpid()) + ".txt");
    std::ofstream out(file, std::ios::binary);
    for (int64_t written = 0; written < (mib << 20); written += static_cast<int64_t>(wiki.size()))
        out << wiki;
    return file;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 5 && std::string(argv[1]) == "--measure")
        return measure(argv[2], argv[3], argv[4]);
    const int64_t mib = argc > 1 ? std::stoll(argv[1]) : 200;
    const fs::path self = fs::read_symlink("/proc/self/exe"); // popen runs a shell
    const fs::path file = writeLargeText(mib);
    std::printf("text: %s (%s)\n", file.c_str(), rs::formatBytes(fs::file_size(file)).c_str());
    std::printf("%-12s %-8s %12s %9s %14s\n", "tokenizer", "mode", "tokens", "seconds",
                "peak RSS MiB");
    for (const char* tokenizer : {"stories260K", "llama2"}) {
        for (const char* mode : {"whole", "stream", "windows", "count"}) {
            const std::string command =
                self.string() + " --measure " + mode + " " + tokenizer + " " + file.string();
            FILE* child = popen(command.c_str(), "r");
            long long tokens = 0;
            double seconds = 0, peak = 0, baseline = 0;
            const int read =
                std::fscanf(child, "%lld %lf %lf %lf", &tokens, &seconds, &peak, &baseline);
            pclose(child);
            if (read != 4) {
                std::printf("%-12s %-8s failed\n", tokenizer, mode);
                continue;
            }
            std::printf("%-12s %-8s %12lld %9.2f %8.0f (+%.0f)\n", tokenizer, mode, tokens, seconds,
                        peak, peak - baseline);
        }
    }
    fs::remove(file);
    return 0;
}
