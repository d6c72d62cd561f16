#pragma once

#include "util/progress.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

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
// The same for a text file, read line by line (a wikitext file is read to its end).
Protocol detectProtocolOfFile(const std::filesystem::path& file, const JobContext& job = {});

struct TokenStream {
    Protocol protocol = Protocol::WikiText;
    std::vector<int32_t> tokens;
    int64_t documents = 0; // stories or lines read
    std::string source;    // the text file, named in errors
    bool wholeText = true; // false: reading stopped once the tokens asked for were there
};

// Tokenises a text in memory according to the protocol; "\r\n" line ends read as "\n". Fails for
// a text with nothing but white space or a tokenizer without the BOS token the protocol needs.
TokenStream buildTokenStream(std::string_view text, Protocol protocol, const Tokenizer& tokenizer);

struct TextReadOptions {
    // Reading stops once this many tokens are there (0: the whole text). The tokens are those
    // of the whole text's encoding, cut.
    int64_t maxTokens = 0;
    // WikiText is encoded in parts of about this size, cut between words where the tokenizer
    // allows it (Tokenizer::splitsAtWords), with the same tokens as one encoding of the whole.
    size_t partBytes = size_t(1) << 20;
};

// Reads and tokenises a text file as buildTokenStream does, streaming: besides the tokens kept,
// memory holds one story or one part of the text (a tokenizer that cannot split at words keeps a
// WikiText text whole). Reports "tokenize" progress in bytes and honours cancellation.
TokenStream readTokenStream(const std::filesystem::path& file, Protocol protocol,
                            const Tokenizer& tokenizer, const TextReadOptions& options = {},
                            const JobContext& job = {});

// The length in tokens of a whole text file under the protocol, counted part by part without
// keeping the tokens.
int64_t countTokens(const std::filesystem::path& file, Protocol protocol,
                    const Tokenizer& tokenizer, const JobContext& job = {});

} // namespace rs
