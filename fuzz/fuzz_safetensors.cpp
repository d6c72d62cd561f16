// safetensors files: the header length, the JSON header (dtypes, shapes, offsets, __metadata__),
// then every tensor read through the mapping as the model loader reads it.

#include "fuzz_input.h"
#include "io/safetensors.h"

#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto path = rs::fuzz::writeScratch("model.safetensors", data, size);
    rs::fuzz::acceptRefusal([&] {
        const auto file =
            std::make_shared<const rs::SafetensorsFile>(rs::SafetensorsFile::open(path));
        for (const auto& name : file->names()) {
            if (file->bytes(name).size() != file->info(name).byteSize())
                __builtin_trap(); // open() checked every tensor's extent
            (void)rs::mappedTensor(file, name);
            (void)file->tensor(name, at::kFloat);
        }
    });
    return 0;
}
