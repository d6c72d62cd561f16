#pragma once

#include "formats/export_format.h"
#include "io/checkpoint.h"
#include "lowrank/compensation.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace rs {

// What an export holds, as `rankscope-cli info` and the workbench describe it.
struct ExportSummary {
    ExportFormat format = ExportFormat::Merged;
    bool manifest = false;       // has rankscope_export.json (written by RankScope)
    int bits = 0;                // GPTQ base: bits per code; 0: no GPTQ base
    int64_t groupSize = 0;       // GPTQ group size (-1: one group per output row)
    bool descAct = false;        // GPTQ act-order (g_idx permutes the groups)
    int64_t quantizedLayers = 0; // linears stored as GPTQ codes
    int64_t denseLayers = 0;     // linears a GPTQ base keeps dense
    int64_t rank = 0;            // the adapter's r, or the most common rank of the factor pairs
    int64_t minRank = 0;         // over every low-rank path
    int64_t maxRank = 0;
    int64_t lowRankLayers = 0;    // linears with a low-rank path (adapter modules, factor pairs)
    int64_t factorOnlyLayers = 0; // factorized linears without a dense base
};

// "gptq+peft export: GPTQ 4-bit, group 32 (20 linears quantized, 15 dense), LoRA adapter rank 8
// on 35 linears", "factorized export: 35 factorized linears (rank 8, 0 without a dense base)".
std::string describeExport(const ExportSummary& summary);

// An export read back into the form RankScope runs: a dense checkpoint (GPTQ layers dequantized
// as a GPTQ loader does, with the float16 scales as stored; a factor-only layer has a zero base)
// and the low-rank path of every layer that has one (PEFT adapter with its scale alpha / r folded
// into B, or the factorized format's pair), in float32.
struct LoadedExport {
    ExportSummary summary;
    Checkpoint checkpoint;
    std::map<std::string, LowRankFactors> lowRank; // by linear name
    std::set<std::string> factorOnly;              // linears that are their factor pair alone
};

// Whether `path` is a directory that needs loadExport(): its config.json has a
// "quantization_config" or "rankscope_factorization", or it carries an export manifest. Any
// other directory or file is an ordinary checkpoint.
bool isExportDirectory(const std::filesystem::path& path);

// Detects the format from config.json ("quantization_config" with quant_method "gptq", or
// "rankscope_factorization"; otherwise a plain dense checkpoint) and reads it with every shape
// checked; floating tensors of the checkpoint end up in `dtype` (float32, bfloat16, float16).
// Errors name the file and the problem: a corrupt or truncated safetensors file, GPTQ bits the
// reader cannot unpack, an adapter or factor pair whose shapes do not fit the base.
LoadedExport loadExport(const std::filesystem::path& dir, const std::string& dtype = "float32");

} // namespace rs
