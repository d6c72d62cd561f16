// SentencePiece tokenizer.model (the protobuf ModelProto, read without libprotobuf): the load,
// then encoding and decoding a short text with the loaded tokenizer.

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_workout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("tokenizer.model", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto tokenizer = rs::loadSentencePieceModel(path);
        rs::fuzz::workOut(*tokenizer);
    });
    return 0;
}
