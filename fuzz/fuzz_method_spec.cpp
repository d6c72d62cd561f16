// Method spec strings ("rtn:bits=3,group=32") for every method kind, and the round trip of a
// parsed spec through serialize().

#include "fuzz_input.h"
#include "methods/registry.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input = rs::fuzz::text(data, size);
    for (const auto kind :
         {rs::MethodKind::Compression, rs::MethodKind::Compensation, rs::MethodKind::LowRank}) {
        rs::fuzz::acceptRefusal([&] {
            const auto config = rs::MethodConfig::parse(input, kind);
            if (!(rs::MethodConfig::parse(config.serialize(), kind) == config))
                std::abort(); // serialize() must give back the same config
        });
    }
    return 0;
}
