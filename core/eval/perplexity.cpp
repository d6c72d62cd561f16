#include "eval/perplexity.h"

#include "dist/communicator.h"
#include "model/carried.h"
#include "model/llama.h"
#include "util/argument_error.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace rs {

namespace {

constexpr int64_t kTinyStoriesSeqLen = 512;
constexpr int64_t kMaxDefaultSeqLen = 2048;
constexpr int64_t kLogitsBudgetBytes = 256LL << 20; // logits of one batch stay under this
constexpr int64_t kMaxBatch = 16;
constexpr int64_t kHeadChunkBytes = 64LL << 20; // logits computed at once in the output head

} // namespace

int64_t evaluationSeqLen(const LlamaModel& model, Protocol protocol, const EvalOptions& options) {
    const ModelConfig& config = model.config();
    int64_t seqLen = options.seqLen;
    if (seqLen <= 0)
        seqLen = protocol == Protocol::TinyStories
                     ? std::min(kTinyStoriesSeqLen, config.maxPositions)
                     : std::min(config.maxPositions, kMaxDefaultSeqLen);
    if (seqLen < 2)
        failArgument("seq_len", "must be at least 2 (got " + std::to_string(seqLen) + ")");
    if (seqLen > config.maxPositions)
        failArgument("seq_len", std::to_string(seqLen) + " exceeds the model context of " +
                                    std::to_string(config.maxPositions));
    return seqLen;
}

int64_t evaluationTokens(const LlamaModel& model, Protocol protocol, const EvalOptions& options) {
    if (options.maxWindows <= 0)
        return 0;
    // Stories predict the token after each window position: the last window needs one more.
    const int64_t seqLen = evaluationSeqLen(model, protocol, options);
    return options.maxWindows * seqLen + (protocol == Protocol::TinyStories ? 1 : 0);
}

struct StreamingPerplexity::Impl {
    const LlamaModel& model;
    std::string protocol;
    int64_t seqLen = 0, windows = 0, batch = 1, streamTokens = 0;
    int64_t allWindows = 0;              // of every rank; `windows` are this rank's share
    std::shared_ptr<Communicator> group; // null in one process
    at::Tensor inputs, targets;          // [windows, time] each
    CarriedStates hidden;                // [windows, time, hidden]
    int64_t nextLayer = 0;
    double seconds = 0.0;

    explicit Impl(const LlamaModel& m)
        : model(m) {}
    // Progress: one unit per window and block, and per window for the output head.
    void report(const JobContext& job, int64_t layer, int64_t done) const {
        job.report("evaluate", layer * windows + done, (model.numLayers() + 1) * windows,
                   layer < model.numLayers() ? "block " + std::to_string(layer) : "output head");
    }
};

StreamingPerplexity::StreamingPerplexity(const LlamaModel& model, const TokenStream& stream,
                                         const EvalOptions& options, const JobContext& job)
    : m_impl(std::make_unique<Impl>(model)) {
    c10::InferenceMode inference;
    Impl& m = *m_impl;
    const ModelConfig& config = model.config();
    const bool stories = stream.protocol == Protocol::TinyStories;
    const int64_t seqLen = evaluationSeqLen(model, stream.protocol, options);

    const auto n = static_cast<int64_t>(stream.tokens.size());
    // Stories predict the token after each window position, so the last window needs one extra
    // token; WikiText windows predict inside themselves.
    int64_t windows = stories ? (n - 1) / seqLen : n / seqLen;
    if (options.maxWindows > 0)
        windows = std::min(windows, options.maxWindows);
    if (windows <= 0)
        fail(stream.source.empty() ? "evaluation text" : stream.source,
             "too short for one window of " + std::to_string(seqLen) + " tokens (" +
                 std::to_string(n) + " tokens)");
    m.batch = options.batchSize;
    if (m.batch <= 0)
        m.batch =
            std::clamp<int64_t>(kLogitsBudgetBytes / (seqLen * config.vocabSize * 4), 1, kMaxBatch);

    const at::Tensor all =
        at::tensor(std::vector<int64_t>(stream.tokens.begin(), stream.tokens.end()), at::kLong);
    if (stories) {
        const at::Tensor span = all.narrow(0, 0, windows * seqLen + 1);
        m.inputs = span.narrow(0, 0, windows * seqLen).view({windows, seqLen});
        m.targets = span.narrow(0, 1, windows * seqLen).view({windows, seqLen});
    } else {
        const at::Tensor span = all.narrow(0, 0, windows * seqLen).view({windows, seqLen});
        m.inputs = span.narrow(1, 0, seqLen - 1).contiguous();
        m.targets = span.narrow(1, 1, seqLen - 1).contiguous();
    }
    m.allWindows = windows;
    if (distributed(job)) { // each rank evaluates its share; finish() sums the NLL over ranks
        m.group = job.group;
        const auto [firstWindow, count] = m.group->share(windows, "evaluation windows");
        m.inputs = m.inputs.narrow(0, firstWindow, count);
        m.targets = m.targets.narrow(0, firstWindow, count);
        windows = count;
    }
    m.protocol = protocolName(stream.protocol);
    m.seqLen = seqLen;
    m.windows = windows;
    m.streamTokens = n;

    const auto started = std::chrono::steady_clock::now();
    m.report(job, 0, 0);
    const at::Tensor first = model.embed(m.inputs.narrow(0, 0, 1));
    m.hidden = CarriedStates({windows, m.inputs.size(1), first.size(2)}, first.options(), job,
                             "evaluation hidden states");
    for (int64_t w = 0; w < windows; w += m.batch) {
        const int64_t count = std::min(m.batch, windows - w);
        m.hidden.tensor().narrow(0, w, count).copy_(model.embed(m.inputs.narrow(0, w, count)));
    }
    m.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

StreamingPerplexity::~StreamingPerplexity() = default;

int64_t StreamingPerplexity::windows() const {
    return m_impl->windows;
}

void StreamingPerplexity::advance(int64_t layer, const JobContext& job) {
    c10::InferenceMode inference;
    Impl& m = *m_impl;
    if (layer != m.nextLayer)
        fail("evaluation", "block " + std::to_string(layer) + " requested while block " +
                               std::to_string(m.nextLayer) + " is next");
    const auto started = std::chrono::steady_clock::now();
    at::Tensor& hidden = m.hidden.tensor();
    for (int64_t w = 0; w < m.windows; w += m.batch) {
        job.cancel.throwIfCancelled();
        const int64_t count = std::min(m.batch, m.windows - w);
        at::Tensor batch = hidden.narrow(0, w, count);
        batch.copy_(m.model.decoderLayer(layer, batch));
        m.report(job, layer, w + count);
    }
    ++m.nextLayer;
    m.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

PerplexityResult StreamingPerplexity::finish(const JobContext& job) {
    c10::InferenceMode inference;
    Impl& m = *m_impl;
    if (m.nextLayer != m.model.numLayers())
        fail("evaluation", "the output head needs every block first (block " +
                               std::to_string(m.nextLayer) + " is next)");
    const auto started = std::chrono::steady_clock::now();
    double nllSum = 0.0;
    int64_t predicted = 0;
    const int64_t vocab = m.model.config().vocabSize;
    for (int64_t w = 0; w < m.windows; w += m.batch) {
        job.cancel.throwIfCancelled();
        const int64_t count = std::min(m.batch, m.windows - w);
        const at::Tensor hidden = m.model.finalNorm(m.hidden.tensor().narrow(0, w, count));
        const at::Tensor targets = m.targets.narrow(0, w, count);
        // Positions go through the head in chunks whose logits stay small (one 2048-token window
        // of a 32k vocabulary has 250 MiB of them, and log_softmax doubles that); a batch that
        // fits is one chunk.
        const int64_t rows = count * hidden.size(1);
        const int64_t chunk = std::max<int64_t>(1, kHeadChunkBytes / (vocab * 4));
        const at::Tensor flatHidden = hidden.reshape({rows, hidden.size(2)});
        const at::Tensor flatTargets = targets.reshape({rows});
        for (int64_t r = 0; r < rows; r += chunk) {
            const int64_t n = std::min(chunk, rows - r);
            const at::Tensor logits = rows <= chunk
                                          ? m.model.logitsFrom(hidden)
                                          : m.model.logitsFrom(flatHidden.narrow(0, r, n));
            const at::Tensor logProbs = at::log_softmax(logits, -1);
            const at::Tensor wanted = rows <= chunk ? targets : flatTargets.narrow(0, r, n);
            const at::Tensor picked =
                logProbs.gather(-1, wanted.to(logProbs.device()).unsqueeze(-1)).squeeze(-1);
            nllSum -= picked.to(at::kDouble).sum().item<double>();
        }
        predicted += targets.numel();
        m.report(job, m.model.numLayers(), w + count);
    }
    m.model.releaseHead();
    m.hidden = CarriedStates();
    if (m.group) {
        at::Tensor sums = at::tensor({nllSum, static_cast<double>(predicted)}, at::kDouble);
        m.group->sum(sums);
        nllSum = sums[0].item<double>();
        predicted = static_cast<int64_t>(std::llround(sums[1].item<double>()));
    }
    if (!std::isfinite(nllSum))
        fail(m.model.source().string(),
             "evaluation produced non-finite log-probabilities; its weights are finite, so the "
             "activations overflow " +
                 m.model.computeDtype() + " (try --dtype float32)");

    PerplexityResult result;
    result.protocol = m.protocol;
    result.meanNll = nllSum / static_cast<double>(predicted);
    result.perplexity = std::exp(result.meanNll);
    result.predictedTokens = predicted;
    result.windows = m.allWindows;
    result.seqLen = m.seqLen;
    result.streamTokens = m.streamTokens;
    m.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    result.seconds = m.seconds;
    return result;
}

PerplexityResult evaluatePerplexity(const LlamaModel& model, const TokenStream& stream,
                                    const EvalOptions& options, const JobContext& job) {
    StreamingPerplexity pass(model, stream, options, job);
    for (int64_t layer = 0; layer < model.numLayers(); ++layer) {
        pass.advance(layer, job);
        model.releaseLayer(layer); // one block in memory at a time
    }
    return pass.finish(job);
}

std::string formatResult(const PerplexityResult& r) {
    char buffer[256];
    std::snprintf(buffer, sizeof buffer,
                  "perplexity %.4f (%s, seq_len %lld, %lld windows, %s predicted tokens, %.2f s)",
                  r.perplexity, r.protocol.c_str(), static_cast<long long>(r.seqLen),
                  static_cast<long long>(r.windows), formatCount(r.predictedTokens).c_str(),
                  r.seconds);
    return buffer;
}

} // namespace rs
