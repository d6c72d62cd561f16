// Writes a random-weight checkpoint of a real model's shape (TinyLlama 1.1B, Llama 3 8B) for scale
// tests and benchmarks: the layout, dimensions, dtype and sharding of the real thing, none of its
// knowledge. Memory stays at about the largest tensor, whatever the model's size.
//
//   make_scale_model SHAPE OUT_DIR [--blocks N] [--dtype D] [--shard-size BYTES|1G|500M]
//                    [--vocab N] [--seed S] [--tokenizer DIR | --no-tokenizer] [--force]
//
// The tokenizer defaults to ../shared/data/tokenizers/llama2 (copied into OUT_DIR when its
// vocabulary fits). Exit codes: 0 written, 1 failed while writing, 2 bad arguments.
#include "bench_common.h"
#include "model/synthetic.h"
#include "pipeline/session.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct UsageError {
    std::string message;
};

void printUsage() {
    std::string shapes;
    for (const auto& name : rs::scaleModelShapes())
        shapes += (shapes.empty() ? "" : ", ") + name;
    std::printf("usage: make_scale_model SHAPE OUT_DIR [options]\n"
                "  SHAPE                one of %s\n"
                "  --blocks N           write only the first N decoder blocks\n"
                "  --dtype D            bfloat16 (default), float32 or float16\n"
                "  --shard-size SIZE    maximum bytes per shard: BYTES, 500M, 1G (default 1G)\n"
                "  --vocab N            vocabulary size instead of the shape's\n"
                "  --seed S             random seed (default 0)\n"
                "  --tokenizer DIR      copy tokenizer.model / tokenizer.bin from DIR\n"
                "                       (default %s)\n"
                "  --no-tokenizer       copy no tokenizer\n"
                "  --force              write into a non-empty OUT_DIR\n",
                shapes.c_str(), rs::bench::sharedData("tokenizers/llama2").c_str());
}

template <typename T> T parseNumber(const std::string& option, const std::string& text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        throw UsageError{option + ": '" + text + "' is not a whole number"};
    return value;
}

int64_t parsePositive(const std::string& option, const std::string& text) {
    const auto value = parseNumber<int64_t>(option, text);
    if (value <= 0)
        throw UsageError{option + ": must be positive (got " + text + ")"};
    return value;
}

// "1073741824", "500M", "1G", "1GiB": binary multiples, as the default of 1 GiB.
uint64_t parseSize(const std::string& option, const std::string& text) {
    size_t digits = 0;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
        ++digits;
    std::string unit = text.substr(digits);
    if (unit.size() == 3 && unit.ends_with("iB"))
        unit.resize(1);
    else if (unit.ends_with("B") || unit.ends_with("b"))
        unit.pop_back();
    constexpr std::string_view kUnits = "KMGT";
    int shift = unit.empty() ? 0 : -1;
    if (unit.size() == 1)
        if (const size_t k = kUnits.find(static_cast<char>(std::toupper(unit[0])));
            k != std::string_view::npos)
            shift = 10 * static_cast<int>(k + 1);
    const std::string bad = option + ": '" + text + "' is not a size like 1073741824, 500M or 1G";
    if (digits == 0 || shift < 0)
        throw UsageError{bad};
    const auto value = parseNumber<uint64_t>(option, text.substr(0, digits));
    if (value == 0 || value > (UINT64_MAX >> shift))
        throw UsageError{bad};
    return value << shift;
}

struct Arguments {
    std::string shape;
    fs::path outDir;
    rs::ScaleModelOptions options;
    bool tokenizerGiven = false;
    bool noTokenizer = false;
    bool force = false;
};

Arguments parseArguments(const std::vector<std::string>& args) {
    Arguments a;
    std::vector<std::string> positional;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string option = args[i];
        std::optional<std::string> inlineValue;
        if (const size_t eq = option.find('=');
            option.starts_with("--") && eq != std::string::npos) {
            inlineValue = option.substr(eq + 1);
            option.resize(eq);
        }
        const auto value = [&]() -> std::string {
            if (inlineValue)
                return *inlineValue;
            if (i + 1 >= args.size())
                throw UsageError{option + ": needs a value"};
            return args[++i];
        };
        if (option == "--blocks")
            a.options.blocks = parsePositive(option, value());
        else if (option == "--vocab")
            a.options.vocab = parsePositive(option, value());
        else if (option == "--seed")
            a.options.seed = parseNumber<uint64_t>(option, value());
        else if (option == "--shard-size")
            a.options.maxShardBytes = parseSize(option, value());
        else if (option == "--dtype") {
            a.options.dtype = value();
            if (a.options.dtype != "bfloat16" && a.options.dtype != "float32" &&
                a.options.dtype != "float16")
                throw UsageError{"--dtype: '" + a.options.dtype +
                                 "' is not bfloat16, float32 or float16"};
        } else if (option == "--tokenizer") {
            a.options.tokenizerDir = value();
            a.tokenizerGiven = true;
        } else if ((option == "--no-tokenizer" || option == "--force") && inlineValue)
            throw UsageError{option + ": takes no value"};
        else if (option == "--no-tokenizer")
            a.noTokenizer = true;
        else if (option == "--force")
            a.force = true;
        else if (option.starts_with("-") && option.size() > 1)
            throw UsageError{option + ": unknown option (see --help)"};
        else
            positional.push_back(args[i]);
    }
    if (positional.size() != 2)
        throw UsageError{"expected SHAPE and OUT_DIR, got " + std::to_string(positional.size()) +
                         " arguments (see --help)"};
    if (a.tokenizerGiven && a.noTokenizer)
        throw UsageError{"--tokenizer and --no-tokenizer exclude each other"};
    a.shape = positional[0];
    a.outDir = positional[1];
    return a;
}

// Everything that can be told from the arguments alone, so that a mistake costs no writing.
rs::ModelConfig checkArguments(Arguments& a) {
    rs::ModelConfig shape;
    try {
        shape = rs::scaleModelConfig(a.shape);
    } catch (const rs::Error& e) {
        throw UsageError{e.what()};
    }
    if (a.options.blocks && *a.options.blocks > shape.numLayers)
        throw UsageError{"--blocks: " + a.shape + " has " + std::to_string(shape.numLayers) +
                         " blocks, not " + std::to_string(*a.options.blocks)};
    if (a.options.vocab && *a.options.vocab < 3)
        throw UsageError{"--vocab: must be at least 3 (<unk>, BOS, EOS)"};
    std::error_code ec;
    if (a.tokenizerGiven && !fs::is_directory(a.options.tokenizerDir, ec))
        throw UsageError{a.options.tokenizerDir.string() + ": is not a directory"};
    if (!a.tokenizerGiven && !a.noTokenizer) {
        const fs::path fallback = rs::bench::sharedData("tokenizers/llama2");
        if (fs::is_directory(fallback, ec))
            a.options.tokenizerDir = fallback;
    }
    if (fs::exists(a.outDir, ec)) {
        if (!fs::is_directory(a.outDir, ec))
            throw UsageError{a.outDir.string() + ": exists and is not a directory"};
        if (!fs::is_empty(a.outDir, ec) && !a.force)
            throw UsageError{a.outDir.string() +
                             ": exists and is not empty (--force writes into it)"};
    }
    return shape;
}

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    for (const auto& arg : args)
        if (arg == "--help" || arg == "-h") {
            printUsage();
            return 0;
        }
    Arguments a;
    rs::ModelConfig shape;
    try {
        a = parseArguments(args);
        shape = checkArguments(a);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "make_scale_model: %s\n", e.message.c_str());
        return 2;
    }

    rs::initializeRuntime();
    const auto start = std::chrono::steady_clock::now();
    rs::ScaleModelResult r;
    try {
        r = rs::writeScaleModel(a.outDir, shape, a.options);
    } catch (const rs::Error& e) {
        std::fprintf(stderr, "make_scale_model: %s\n", e.what());
        return 1;
    }
    const double seconds = rs::bench::secondsSince(start);

    std::printf("%s: %lld of %lld blocks, vocab %lld, %s, seed %llu -> %s\n", a.shape.c_str(),
                static_cast<long long>(r.config.numLayers), static_cast<long long>(shape.numLayers),
                static_cast<long long>(r.config.vocabSize), a.options.dtype.c_str(),
                static_cast<unsigned long long>(a.options.seed), a.outDir.string().c_str());
    uint64_t total = 0;
    for (const auto& [name, bytes] : r.files) {
        std::printf("  %-36s %10s  %s bytes\n", name.c_str(), rs::formatBytes(bytes).c_str(),
                    rs::formatCount(static_cast<int64_t>(bytes)).c_str());
        total += bytes;
    }
    for (const auto& skipped : r.skipped)
        std::printf("  not copied: %s\n", skipped.c_str());
    std::printf("%s parameters, %s of tensors, %s in %zu files\n",
                rs::formatCount(r.parameters).c_str(), rs::formatBytes(r.tensorBytes).c_str(),
                rs::formatBytes(total).c_str(), r.files.size());
    std::printf("written in %.1f s (%.0f MiB/s), peak RSS %.0f MiB\n", seconds,
                static_cast<double>(total) / (1024.0 * 1024.0) / std::max(seconds, 1e-9),
                rs::bench::peakRssMiB());
    return 0;
}
