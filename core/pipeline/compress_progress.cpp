#include "pipeline/compress_progress.h"

#include <utility>

namespace rs {

namespace {
constexpr const char* kStage = "compress";
}

CompressProgress::CompressProgress(const JobContext& job, int64_t blocks,
                                   std::vector<std::string> passes)
    : m_job(job)
    , m_blocks(blocks)
    , m_passes(std::move(passes)) {}

int64_t CompressProgress::total() const {
    return m_blocks * stepsPerBlock() + int64_t(m_passes.size());
}

std::string CompressProgress::where(int64_t k) const {
    return k < m_blocks ? "block " + std::to_string(k + 1) + "/" + std::to_string(m_blocks)
                        : std::string("output head");
}

void CompressProgress::compressing(int64_t k) const {
    m_job.report(kStage, k * stepsPerBlock(), total(), where(k));
}

void CompressProgress::evaluating(int64_t k, size_t pass, int64_t window, int64_t windows) const {
    const int64_t done = k < m_blocks ? k * stepsPerBlock() + 1 + int64_t(pass)
                                      : m_blocks * stepsPerBlock() + int64_t(pass);
    std::string detail = where(k) + ": evaluate " + m_passes.at(pass);
    if (windows > 0)
        detail += ", window " + std::to_string(window) + "/" + std::to_string(windows);
    m_job.report(kStage, done, total(), detail);
}

JobContext CompressProgress::passContext(int64_t k, size_t pass, const JobContext& quiet) const {
    JobContext context = quiet;
    if (!m_job.progress)
        return context;
    const int64_t blocks = m_blocks;
    context.progress = [this, k, pass, blocks](const ProgressEvent& e) {
        const int64_t windows = e.total / (blocks + 1); // every block's windows, then the head's
        if (windows > 0)
            evaluating(k, pass, e.done - k * windows, windows);
    };
    return context;
}

void CompressProgress::finished() const {
    m_job.report(kStage, total(), total());
}

} // namespace rs
