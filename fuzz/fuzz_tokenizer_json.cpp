// Hugging Face tokenizer.json (BPE: byte-level or SentencePiece-style with byte fallback): the
// load, then encoding and decoding a short text with the loaded tokenizer.

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("tokenizer.json", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto tokenizer = rs::loadHfTokenizerJson(path);
        const auto ids = tokenizer->encode("Once upon a time, <s> naïve 日本 \n\t 12345!");
        (void)tokenizer->decode(ids);
        const std::vector<int32_t> edges{0, tokenizer->vocabSize() - 1};
        (void)tokenizer->decode(edges);
        (void)tokenizer->vocabulary();
    });
    return 0;
}
