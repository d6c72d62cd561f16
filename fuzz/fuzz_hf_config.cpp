// Hugging Face config.json of the LLaMA family: parsing, Transformers defaults and validation.

#include "fuzz_input.h"
#include "io/hfconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rs::fuzz::acceptRefusal(
        [&] { rs::parseModelConfig(rs::fuzz::text(data, size), "config.json"); });
    return 0;
}
