#include "export/verify_export.h"

#include "pipeline/session.h"

namespace rs {

PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job) {
    const auto session = ModelSession::open(dir, {}, job);
    return evaluateTextFile(*session, text, options, job);
}

} // namespace rs
