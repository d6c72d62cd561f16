// llama2.c legacy checkpoints: the 7-int header and the file size it implies, then the import.
// Input: the file itself; when byte 28 (right after the header) is even and the header is
// consistent and small, the rest is padded or cut to the exact size so that the import runs.

#include "fuzz_input.h"
#include "io/llama2c.h"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    constexpr size_t kHeaderBytes = sizeof(rs::Llama2cHeader);
    static_assert(kHeaderBytes == 28);
    std::string file(rs::fuzz::text(data, size));
    if (size > kHeaderBytes && data[kHeaderBytes] % 2 == 0) {
        rs::Llama2cHeader header;
        std::memcpy(&header, data, kHeaderBytes);
        try {
            const uint64_t exact = rs::llama2cFileSize(header, "stories.bin");
            if (exact <= (uint64_t(4) << 20))
                file.resize(exact, '\0');
        } catch (const rs::Error&) {
        }
    }
    const auto path = rs::fuzz::writeScratch(
        "stories.bin", reinterpret_cast<const uint8_t*>(file.data()), file.size());
    rs::fuzz::acceptRefusal([&] { (void)rs::loadLlama2c(path); });
    return 0;
}
