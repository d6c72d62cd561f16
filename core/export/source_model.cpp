#include "export/source_model.h"

#include "io/hfconfig.h"
#include "io/hfmodel.h"
#include "io/model_files.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rs {

namespace fs = std::filesystem;

bool isCopiedModelFile(const std::string& name) {
    // config.json is written by the export itself.
    return (isModelSideFile(name) && name != "config.json") || name.rfind("LICENSE", 0) == 0;
}

SourceModel readSourceModel(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec))
        fail(dir.string(), "the experiment's model is missing (moved or deleted since it ran)");
    if (!fs::is_directory(dir, ec))
        fail(dir.string(), "exports start from a Hugging Face model directory (config.json + "
                           "safetensors); convert a llama2.c file first");
    SourceModel source;
    source.dir = dir;
    source.configJson = readTextFile(dir / "config.json");
    source.config = readModelConfig(dir / "config.json");
    source.files = mapModelTensors(dir);
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && isCopiedModelFile(e.path().filename().string()))
            source.extraFiles.push_back(e.path());
    std::sort(source.extraFiles.begin(), source.extraFiles.end());
    return source;
}

std::string sourceModelName(const SourceModel& source) {
    const nlohmann::json config = nlohmann::json::parse(source.configJson, nullptr, false);
    if (config.is_object()) {
        const auto it = config.find("_name_or_path");
        if (it != config.end() && it->is_string() && !it->get<std::string>().empty())
            return it->get<std::string>();
    }
    const std::filesystem::path dir = source.dir.lexically_normal();
    return (dir.has_filename() ? dir.filename() : dir.parent_path().filename()).string();
}

} // namespace rs
