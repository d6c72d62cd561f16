// llama2.c tokenizer.bin, read whole and with an expected vocabulary size (as a model directory's
// config.json gives it), then encoding and decoding a short text. The first byte picks the size.

#include "fuzz_input.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_workout.h"

#include <optional>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const std::optional<int32_t> expected =
        data[0] == 0 ? std::nullopt : std::optional<int32_t>(data[0] * 4);
    const auto path = rs::fuzz::writeScratch("tokenizer.bin", data + 1, size - 1);
    rs::fuzz::acceptRefusal([&] {
        const auto tokenizer = rs::loadLlama2cTokenizer(path, expected);
        rs::fuzz::workOut(*tokenizer);
    });
    return 0;
}
