// model.safetensors.index.json: the weight map of a sharded checkpoint, read against two small
// valid shards that are written once per process, with every tensor then mapped.

#include "fuzz_input.h"
#include "io/hfmodel.h"

#include <cstring>

namespace {

// A safetensors file holding float32 tensors of 2 elements each, named `names`.
std::string shard(std::initializer_list<const char*> names) {
    std::string header = "{";
    uint64_t offset = 0;
    for (const char* name : names) {
        if (offset > 0)
            header += ",";
        header += std::string("\"") + name +
                  "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" +
                  std::to_string(offset) + "," + std::to_string(offset + 8) + "]}";
        offset += 8;
    }
    header += "}";
    const uint64_t length = header.size();
    std::string file(8, '\0');
    std::memcpy(file.data(), &length, 8); // little-endian, as on every target of this build
    return file + header + std::string(offset, '\0');
}

const std::filesystem::path& modelDir() {
    static const std::filesystem::path dir = [] {
        const auto d = rs::fuzz::scratchDir() / "sharded";
        rs::fuzz::writeFile(d, "model-00001-of-00002.safetensors",
                            shard({"model.embed_tokens.weight", "model.norm.weight"}));
        rs::fuzz::writeFile(d, "model-00002-of-00002.safetensors", shard({"lm_head.weight"}));
        return d;
    }();
    return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rs::fuzz::writeFile(modelDir(), "model.safetensors.index.json", rs::fuzz::text(data, size));
    rs::fuzz::acceptRefusal([&] {
        const auto checkpoint = rs::mapModelTensors(modelDir());
        for (const auto& tensor : checkpoint.tensors)
            (void)checkpoint.read(tensor.name);
    });
    return 0;
}
