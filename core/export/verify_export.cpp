#include "export/verify_export.h"

namespace rs {

PerplexityResult evaluateExport(const std::filesystem::path& dir, const std::filesystem::path& text,
                                const EvalOptions& options, const JobContext& job,
                                const OpenOptions& open) {
    // The export holds what its source held: the warnings opening it gives (unused tensors, a
    // dtype the device computes otherwise) were given when the source opened, and here they would
    // name the hidden staging directory.
    JobContext opening = job;
    opening.progress = [&job](const ProgressEvent& e) {
        if (e.stage != "warning" && job.progress)
            job.progress(e);
    };
    const auto session = ModelSession::open(dir, open, opening);
    return evaluateTextFile(*session, text, options, job);
}

std::string runtimeDtype(ExportFormat format, const std::string& device) {
    if (format == ExportFormat::Gguf)
        return {};
    return device.starts_with("cuda") ? "float16" : "bfloat16";
}

} // namespace rs
