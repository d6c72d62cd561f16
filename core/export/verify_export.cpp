#include "export/verify_export.h"

namespace rs {

PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job,
                                const OpenOptions& open) {
    const auto session = ModelSession::open(dir, open, job);
    return evaluateTextFile(*session, text, options, job);
}

std::string runtimeDtype(ExportFormat format, const std::string& device) {
    if (format == ExportFormat::Gguf)
        return {};
    return device.starts_with("cuda") ? "float16" : "bfloat16";
}

} // namespace rs
