#pragma once

#include "formats/export_format.h"
#include "io/checkpoint.h"

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
    std::string ggufBaseType;     // GGUF: the type most decoder linears are stored in ("Q4_0")
};

// "gptq+peft export: GPTQ 4-bit, group 32 (20 linears quantized, 15 dense), LoRA adapter rank 8
// on 35 linears", "factorized export: 35 factorized linears (rank 8, 0 without a dense base)".
std::string describeExport(const ExportSummary& summary);

// An export read back into the form RankScope runs, lazily: a checkpoint whose tensors are views
// of the mapped export files, where a GPTQ layer's weight is dequantized as a GPTQ loader does
// (float16 scales as stored) only when its block is built, and every low-rank path (PEFT adapter
// with its scale alpha / r folded into B, or the factorized format's pair) is the linear's pair
// under lowRankTensorName(); a factor-only layer has no weight.
struct LoadedExport {
    ExportSummary summary;
    Checkpoint checkpoint;
};

// Whether `path` is a directory that needs loadExport(): its config.json has a
// "quantization_config" or "rankscope_factorization", it holds a model.gguf, or it carries an
// export manifest. Any other directory or file is an ordinary checkpoint.
bool isExportDirectory(const std::filesystem::path& path);

// Detects the format (a model.gguf beside config.json; config.json's "quantization_config" with
// quant_method "gptq", or "rankscope_factorization"; otherwise a plain dense checkpoint) and opens
// it with every shape checked, reading headers only. A GGUF export's tensors are decoded to
// float32 as llama.cpp computes with them and its q/k rows put back in Hugging Face's order; its
// LoRA adapter (adapter.gguf) is scaled by alpha / rank as llama.cpp does. Errors name the file
// and the problem: a corrupt or truncated safetensors or GGUF file, GPTQ bits the reader cannot
// unpack, an adapter or factor pair whose shapes do not fit the base.
LoadedExport loadExport(const std::filesystem::path& dir);

} // namespace rs
