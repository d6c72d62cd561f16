// Evaluation throughput of the forward pass: tokens/s and peak RSS on stories260K and on a
// randomly initialised ~125M-parameter LLaMA, set against the machine's fp32 matmul throughput
// measured in the same run. Target: the 125M forward reaches at least 40 % of the matmul figure
// at 512-token windows.
//
// Usage: bench_forward [WINDOWS] [--device=cuda] (the models and the matmul on that device)
#include "bench_common.h"
#include "eval/perplexity.h"
#include "model/llama.h"
#include "model/synthetic.h"
#include "pipeline/session.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cstdio>
#include <filesystem>

namespace {

using Clock = std::chrono::steady_clock;

// FLOPs of one forward pass over `windows` windows of `seqLen` tokens: 2 x parameters x tokens
// for the matmuls (embedding lookup excluded, output head included) plus the attention scores and
// weighted sums, 4 x layers x seqLen^2 x (heads x head_dim) per window.
double forwardFlops(const rs::ModelSummary& s, int64_t windows, int64_t seqLen) {
    const rs::ModelConfig& c = s.config;
    const double matmulParams =
        static_cast<double>(s.linearParameters) + static_cast<double>(c.vocabSize * c.hiddenSize);
    const double tokens = static_cast<double>(windows * seqLen);
    const double attention =
        4.0 * static_cast<double>(c.numLayers) * static_cast<double>(seqLen * seqLen) *
        static_cast<double>(c.numHeads * c.headDim) * static_cast<double>(windows);
    return 2.0 * matmulParams * tokens + attention;
}

void report(const char* name, const rs::ModelSummary& s, const rs::PerplexityResult& r,
            double matmul) {
    const double tokensPerSecond = static_cast<double>(r.windows * r.seqLen) / r.seconds;
    const double gflops = forwardFlops(s, r.windows, r.seqLen) / r.seconds / 1e9;
    std::printf("%-12s params %11lld  windows %3lld x %4lld  %7.2f s  %9.0f tokens/s  "
                "%6.1f GFLOP/s  %5.1f %% of matmul  peak RSS %7.1f MiB\n",
                name, static_cast<long long>(s.totalParameters), static_cast<long long>(r.windows),
                static_cast<long long>(r.seqLen), r.seconds, tokensPerSecond, gflops,
                100.0 * gflops / matmul, rs::bench::peakRssMiB());
}

} // namespace

int main(int argc, char** argv) {
    const int64_t windows125m = argc > 1 && argv[1][0] != '-' ? std::atoll(argv[1]) : 8;
    const at::Device device = rs::bench::deviceArgument(argc, argv);
    rs::OpenOptions open;
    open.device = device.str();
    rs::initializeRuntime();
    std::printf("threads %d, device %s\n", at::get_num_threads(), open.device.c_str());
    const double matmul = rs::bench::matmulGflops(device.is_cpu() ? 2048 : 8192, 5, device);
    std::printf("fp32 matmul (best of 5): %.1f GFLOP/s\n", matmul);

    {
        const auto session =
            rs::ModelSession::open(rs::bench::sharedData("models/stories260K"), open);
        const rs::PerplexityResult r =
            rs::evaluateTextFile(*session, rs::bench::sharedData("text/tinystories/eval.txt"), {});
        report("stories260K", session->summary(), r, matmul);
        std::printf("             perplexity %.4f on tinystories eval.txt\n", r.perplexity);
    }

    const auto dir = std::filesystem::temp_directory_path() / "rankscope_bench_llama125m";
    rs::writeRandomLlama(dir, rs::llama125mConfig(), 125);
    {
        const auto session = rs::ModelSession::open(dir, open);
        rs::TokenStream stream;
        stream.protocol = rs::Protocol::TinyStories;
        at::manual_seed(1);
        const at::Tensor ids = at::randint(3, 32000, {windows125m * 512 + 1}, at::kInt);
        stream.tokens.assign(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
        rs::EvalOptions options;
        options.seqLen = 512;
        options.batchSize = 4;
        options.maxWindows = 1;
        rs::evaluatePerplexity(session->model(), stream, options); // warm-up
        options.maxWindows = 0;
        const rs::PerplexityResult r = rs::evaluatePerplexity(session->model(), stream, options);
        report("llama-125M", session->summary(), r, matmul);
    }
    std::filesystem::remove_all(dir);
    return 0;
}
