// GGUF files: header, metadata key/values, tensor infos and data offsets, then every tensor's
// bytes and size.

#include "formats/gguf.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("model.gguf", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto file = rs::gguf::File::open(path);
        for (size_t i = 0; i < file.tensors().size(); ++i)
            if (file.data(i).size() != file.tensors()[i].byteSize())
                __builtin_trap(); // File::open checked every tensor's extent
        (void)file.find("general.architecture");
    });
    return 0;
}
