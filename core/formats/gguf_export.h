#pragma once

// Reading a GGUF export back (internal to core/formats; see loadExport in export_reader.h).
#include "formats/export_reader.h"

namespace rs {

// dir/model.gguf and, when present, dir/adapter.gguf, checked against the model of `config`
// (config.json beside them).
LoadedExport loadGgufExport(const std::filesystem::path& dir, const ModelConfig& config);

} // namespace rs
