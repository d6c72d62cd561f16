#include "export/source_model.h"

#include "io/hfconfig.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace rs {

namespace fs = std::filesystem;

bool isCopiedModelFile(const std::string& name) {
    static const std::set<std::string> exact{
        "special_tokens_map.json", "generation_config.json", "vocab.json",         "merges.txt",
        "added_tokens.json",       "chat_template.json",     "chat_template.jinja"};
    return exact.count(name) > 0 || name.rfind("tokenizer", 0) == 0 ||
           name.rfind("LICENSE", 0) == 0;
}

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

SourceModel readSourceModel(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        fail(dir.string(), "exports start from a Hugging Face model directory (config.json + "
                           "safetensors); convert a llama2.c file first");
    SourceModel source;
    source.dir = dir;
    source.configJson = readTextFile(dir / "config.json");
    source.config = readModelConfig(dir / "config.json");
    source.tensors = readModelTensors(dir);
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && isCopiedModelFile(e.path().filename().string()))
            source.extraFiles.push_back(e.path());
    std::sort(source.extraFiles.begin(), source.extraFiles.end());
    return source;
}

} // namespace rs
