#include "formats/model_tensors.h"

#include "io/safetensors.h"
#include "util/error.h"
#include "util/text.h"

#include <nlohmann/json.hpp>
#include <set>

namespace rs {

namespace fs = std::filesystem;

std::vector<NamedTensor> readModelTensors(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    if (fs::exists(dir / "model.safetensors", ec)) {
        files.push_back(dir / "model.safetensors");
    } else if (const fs::path index = dir / "model.safetensors.index.json"; fs::exists(index, ec)) {
        nlohmann::json root;
        try {
            root = nlohmann::json::parse(readTextFile(index));
        } catch (const nlohmann::json::exception& e) {
            fail(index.string(), std::string("not valid JSON (") + e.what() + ")");
        }
        if (!root.contains("weight_map") || !root["weight_map"].is_object())
            fail(index.string(), "has no \"weight_map\" object");
        std::set<std::string> shards;
        for (const auto& [name, shard] : root["weight_map"].items()) {
            const std::string file = shard.is_string() ? shard.get<std::string>() : "";
            if (file.empty() || fs::path(file).filename() != fs::path(file))
                fail(index.string(), "weight_map entry of '" + name + "' is not a file name");
            shards.insert(file);
        }
        for (const std::string& s : shards)
            files.push_back(dir / s);
    } else {
        fail(dir.string(), "no model.safetensors or model.safetensors.index.json");
    }
    std::vector<NamedTensor> tensors;
    for (const fs::path& f : files) {
        const SafetensorsFile file = SafetensorsFile::open(f);
        for (const std::string& name : file.names())
            tensors.push_back({name, file.tensor(name)});
    }
    return tensors;
}

} // namespace rs
