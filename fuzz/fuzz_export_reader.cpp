// Exports read back (loadExport): GPTQ base + PEFT adapter, factorized, GGUF base + LoRA, merged.
// Input: a small archive of the export's files, records of [file id: 1 byte][size: 4 bytes,
// little-endian][bytes] (ids in kFiles; fuzz/make_seeds.py writes them). Every tensor is then
// read, which dequantizes GPTQ weights and decodes GGUF ones.

#include "formats/export_reader.h"
#include "fuzz_input.h"

#include <array>
#include <cstring>

namespace {

constexpr std::array<const char*, 7> kFiles = {"config.json",
                                               "model.safetensors",
                                               "adapter/adapter_config.json",
                                               "adapter/adapter_model.safetensors",
                                               "model.gguf",
                                               "adapter.gguf",
                                               "rankscope_export.json"};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto dir = rs::fuzz::scratchDir() / "export";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (size_t at = 0; at + 5 <= size;) {
        const size_t id = data[at] % kFiles.size();
        uint32_t length = 0;
        std::memcpy(&length, data + at + 1, 4);
        at += 5;
        length = static_cast<uint32_t>(std::min<size_t>(length, size - at));
        rs::fuzz::writeFile(dir, kFiles[id], rs::fuzz::text(data + at, length));
        at += length;
    }
    rs::fuzz::acceptRefusal([&] {
        const auto loaded = rs::loadExport(dir);
        (void)rs::describeExport(loaded.summary);
        for (const auto& tensor : loaded.checkpoint.tensors)
            (void)loaded.checkpoint.read(tensor.name);
    });
    return 0;
}
