#pragma once

#include "eval/token_stream.h"
#include "util/progress.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

class LlamaModel;

struct EvalOptions {
    std::optional<Protocol> protocol; // detected from the text when absent
    int64_t seqLen = 0;     // 0: 512 for tinystories; the model context capped at 2048 otherwise
    int64_t maxWindows = 0; // 0: all
    int64_t batchSize = 0;  // 0: chosen from the logits memory it needs
};

// The window length an evaluation of `model` uses: options.seqLen, else the protocol's default.
// Fails (ArgumentError) for one under 2 or beyond the model's context.
int64_t evaluationSeqLen(const LlamaModel& model, Protocol protocol, const EvalOptions& options);

// How many tokens of the text an evaluation reads: those of options.maxWindows windows, or 0 (the
// whole text) without a limit.
int64_t evaluationTokens(const LlamaModel& model, Protocol protocol, const EvalOptions& options);

struct PerplexityResult {
    std::string protocol;
    double perplexity = 0.0;
    double meanNll = 0.0; // nats per predicted token
    int64_t predictedTokens = 0;
    int64_t windows = 0;
    int64_t seqLen = 0;
    int64_t streamTokens = 0; // tokens of the text read (all of it unless maxWindows stopped it)
    double seconds = 0.0;     // model time, tokenisation excluded
};

// Perplexity computed block by block: the hidden states of every window are carried through one
// decoder block at a time (CarriedStates, under the job's memory budget), then through the final
// norm and the output head. Jobs that evaluate several models differing in some blocks (the
// variants of a compression) keep one pass per model and advance them all through each block as
// it is loaded. Results are those of evaluatePerplexity() bit for bit.
class StreamingPerplexity {
public:
    // Fails for a stream too short for one window or a bad seq_len.
    StreamingPerplexity(const LlamaModel& model, const TokenStream& stream,
                        const EvalOptions& options, const JobContext& job = {});
    ~StreamingPerplexity();
    StreamingPerplexity(const StreamingPerplexity&) = delete;
    StreamingPerplexity& operator=(const StreamingPerplexity&) = delete;

    // Passes every window through block `layer` as it is in the model now (blocks in order).
    void advance(int64_t layer, const JobContext& job = {});
    // After the last block: the final norm, the output head and the perplexity.
    PerplexityResult finish(const JobContext& job = {});
    int64_t windows() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Perplexity of `model` on an already tokenised stream, streamed one block at a time (each block
// released after it, unless pinned). Reports progress per batch of windows and block under the
// stage "evaluate" and honours cancellation between batches.
PerplexityResult evaluatePerplexity(const LlamaModel& model, const TokenStream& stream,
                                    const EvalOptions& options, const JobContext& job = {});

// One-line rendering: "perplexity 3.6316 (tinystories, seq_len 512, 93 windows, 47,616 predicted
// tokens, 1.2 s)".
std::string formatResult(const PerplexityResult& result);

} // namespace rs
