#pragma once

#include "eval/perplexity.h"
#include "formats/export_reader.h"
#include "util/progress.h"

#include <filesystem>

namespace rs {

// Opens an export as a model session (ModelSession::open reads every format RankScope writes,
// formats/export_reader.h) and measures perplexity on `text` with the tokenizer stored in the
// export: the same number `rankscope-cli eval EXPORT_DIR` prints.
PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job = {});

} // namespace rs
