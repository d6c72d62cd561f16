#pragma once

#include "eval/perplexity.h"
#include "export/export_writer.h"
#include "export/staging.h"
#include "util/progress.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rs {

class ExperimentStore;

struct ExportRequest {
    int64_t experimentId = 0;
    ExportFormat format = ExportFormat::Merged;
    std::string dtype;   // of produced tensors; empty: the source's torch_dtype (else float32)
    std::string variant; // label ("eora@8"); empty: the experiment's only compensated variant
    std::filesystem::path outDir;
    bool force = false; // replace an earlier export (never any other directory)
};

struct ExportOptions {
    FreeSpaceFn freeSpace; // unset: the file system's (tests simulate a full disk)
    std::string device = "cpu";
};

struct ExportResult {
    int64_t exportId = 0; // row in the store's exports table
    std::filesystem::path path;
    std::string format;
    std::string variant;
    std::string dtype;
    std::string contentHash;
    uint64_t bytes = 0;
    std::vector<std::pair<std::string, uint64_t>> files; // relative path, bytes
    WrittenExport written;
    std::optional<double> storedPerplexity;   // what the experiment recorded
    std::optional<PerplexityResult> inMemory; // the reproduced model before export
    std::optional<PerplexityResult> reloaded; // the export read back from disk
    // The export read back and run in the dtype of the runtimes that deploy it (runtimeDtype()),
    // so that a user sees what half-precision activations cost.
    std::string runtimeDtype;
    std::optional<PerplexityResult> inRuntimeDtype;
};

// Relative perplexity difference allowed between the stored experiment and its reproduction
// (the same computation, so only reduction order may differ).
inline constexpr double kReproducedPerplexityTolerance = 1e-4;
// Between the in-memory model and a float32 export read back (float16 GPTQ scales included).
inline constexpr double kFloat32ReloadTolerance = 1e-3;

// Exports one variant of a finished experiment. The experiment stores its request, not its
// weights, so the compression is run again on the recorded model (whose content hash must be
// unchanged) and its perplexity checked against the stored one; the variant's W_c, grids and
// factors are then written (writeExport) into a staging directory beside outDir, read back and
// evaluated (a float32 export must match within kFloat32ReloadTolerance), given a README.md
// model card and a manifest, synced and renamed into place, and recorded in the store with
// its content hash. Free space is checked before writing. Any failure or cancellation leaves
// nothing behind; an existing outDir is refused unless `force` and it is an earlier export.
ExportResult exportExperiment(ExperimentStore& store, const ExportRequest& request,
                              const JobContext& job = {}, const ExportOptions& options = {});

} // namespace rs
