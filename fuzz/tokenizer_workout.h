#pragma once

// What every tokenizer target does with a tokenizer its parser accepted: encode and decode a text
// with special and non-ASCII characters, decode the first and last ids, list the vocabulary.

#include "tokenizer/tokenizer.h"

#include <vector>

namespace rs::fuzz {

inline void workOut(const Tokenizer& tokenizer) {
    const auto ids = tokenizer.encode("Once upon a time, <s> naïve 日本 \n\t 12345!");
    (void)tokenizer.decode(ids);
    const std::vector<int32_t> edges{0, tokenizer.vocabSize() - 1};
    (void)tokenizer.decode(edges);
    (void)tokenizer.vocabulary();
}

} // namespace rs::fuzz
