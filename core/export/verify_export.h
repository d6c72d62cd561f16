#pragma once

#include "eval/perplexity.h"
#include "formats/export_reader.h"
#include "pipeline/session.h"
#include "util/progress.h"

#include <filesystem>
#include <string>

namespace rs {

// Opens an export as a model session (ModelSession::open reads every format RankScope writes,
// formats/export_reader.h) and measures perplexity on `text` with the tokenizer stored in the
// export: the same number `rankscope-cli eval EXPORT_DIR` prints.
// `open` sets the dtype and device the export runs in (the default: float32 on the CPU).
PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job = {},
                                const OpenOptions& open = {});

// The dtype a deployment runtime computes an export with: float16 (vLLM, GPTQModel) on a GPU; on
// the CPU bfloat16, which GPTQModel also runs and LibTorch can multiply there (it has no float16
// CPU matmul). Empty for GGUF, which llama.cpp runs with its own block arithmetic.
std::string runtimeDtype(ExportFormat format, const std::string& device);

} // namespace rs
