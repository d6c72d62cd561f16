#pragma once

#include "eval/perplexity.h"
#include "export/export_writer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rs {

// What the README.md model card of an export states.
struct ModelCardInfo {
    ExportFormat format = ExportFormat::Merged;
    std::string dtype;
    std::string sourceModel; // path of the original model
    std::string sourceHash;  // its weights' content hash
    int64_t experimentId = 0;
    std::string compression; // "rtn:bits=4,group=32,sym=false"
    std::string variant;     // "eora@8"
    std::string calibration; // "calib.txt, 16,384 tokens, parallel"
    std::string evalText;    // file name; empty: not evaluated
    std::optional<PerplexityResult> inMemory;
    std::optional<PerplexityResult> reloaded;
    std::string runtimeDtype; // the dtype of inRuntimeDtype
    std::optional<PerplexityResult> inRuntimeDtype;
    WrittenExport written;
    std::vector<std::pair<std::string, uint64_t>> files; // relative path, bytes
};

// Deterministic Markdown (no dates), so that the same export always hashes the same.
std::string modelCard(const ModelCardInfo& info);

} // namespace rs
