#pragma once

#include "util/progress.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

class LlamaModel;
class Tokenizer;

// The two pinned evaluation protocols (docs/design.md §4):
// - TinyStories: stories split on "<|endoftext|>" lines, each stripped and encoded as
//   [BOS] + tokens, concatenated; window i feeds [s*i, s*i + s) and predicts the next token of
//   each position, for i < (N - 1) / s (s = 512 by default).
// - WikiText: the lines (each with its newline) joined with "\n\n", encoded once with a leading
//   BOS, cut into non-overlapping windows of s tokens; each window predicts its last s - 1 tokens.
enum class Protocol { TinyStories, WikiText };

const char* protocolName(Protocol protocol);
std::optional<Protocol> parseProtocol(std::string_view name);

// tinystories when the text holds a "<|endoftext|>" separator line, else wikitext.
Protocol detectProtocol(std::string_view text);

struct EvalOptions {
    std::optional<Protocol> protocol; // detected from the text when absent
    int64_t seqLen = 0;     // 0: 512 for tinystories; the model context capped at 2048 otherwise
    int64_t maxWindows = 0; // 0: all
    int64_t batchSize = 0;  // 0: chosen from the logits memory it needs
};

struct TokenStream {
    Protocol protocol = Protocol::WikiText;
    std::vector<int32_t> tokens;
    int64_t documents = 0; // stories or lines
    std::string source;    // the text file, named in errors
};

// Tokenises a text according to the protocol. Fails for an empty text or a tokenizer without the
// BOS token the protocol needs.
TokenStream buildTokenStream(std::string_view text, Protocol protocol, const Tokenizer& tokenizer);

struct PerplexityResult {
    std::string protocol;
    double perplexity = 0.0;
    double meanNll = 0.0; // nats per predicted token
    int64_t predictedTokens = 0;
    int64_t windows = 0;
    int64_t seqLen = 0;
    int64_t streamTokens = 0; // tokens in the whole encoded text
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
