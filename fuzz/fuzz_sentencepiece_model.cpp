// SentencePiece tokenizer.model (the protobuf ModelProto, read without libprotobuf): the load,
// then encoding and decoding a short text with the loaded tokenizer.

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("tokenizer.model", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto tokenizer = rs::loadSentencePieceModel(path);
        const auto ids = tokenizer->encode("Once upon a time, <s> naïve 日本 \n\t 12345!");
        (void)tokenizer->decode(ids);
        const std::vector<int32_t> edges{0, tokenizer->vocabSize() - 1};
        (void)tokenizer->decode(edges);
        (void)tokenizer->vocabulary();
    });
    return 0;
}
