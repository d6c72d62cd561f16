// Hugging Face tokenizer.json (BPE: byte-level or SentencePiece-style with byte fallback): the
// load, then encoding and decoding a short text with the loaded tokenizer.

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_workout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("tokenizer.json", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto tokenizer = rs::loadHfTokenizerJson(path);
        rs::fuzz::workOut(*tokenizer);
    });
    return 0;
}
