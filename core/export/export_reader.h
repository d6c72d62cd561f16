#pragma once

#include "eval/perplexity.h"
#include "export/export_writer.h"
#include "io/checkpoint.h"
#include "lowrank/compensation.h"

#include <filesystem>
#include <map>
#include <string>

namespace rs {

// An export read back into the form RankScope runs: a dense float32 checkpoint (GPTQ layers
// dequantized as a GPTQ loader does, with the float16 scales as stored; a factor-only layer
// has a zero base) and the low-rank path of every layer that has one (PEFT adapter with its
// scale alpha / r folded into B, or the factorized format's pair).
struct LoadedExport {
    ExportFormat format = ExportFormat::Merged;
    Checkpoint checkpoint;
    std::map<std::string, LowRankFactors> lowRank; // by linear name
};

// Detects the format from config.json ("quantization_config" with quant_method "gptq", or
// "rankscope_factorization"; otherwise a plain dense checkpoint) and reads it with every shape
// checked. Errors name the file and the problem.
LoadedExport loadExport(const std::filesystem::path& dir);

// Loads an export with loadExport(), builds the model with its low-rank paths, and measures
// perplexity on `text` with the tokenizer stored in the export.
PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job = {});

} // namespace rs
