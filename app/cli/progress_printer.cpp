#include "progress_printer.h"

#include <cstdio>
#include <unistd.h>

namespace rs::cli {

namespace {
constexpr auto kTerminalInterval = std::chrono::milliseconds(100);
constexpr auto kLogInterval = std::chrono::seconds(5);
} // namespace

ProgressPrinter::ProgressPrinter()
    : m_terminal(::isatty(STDERR_FILENO) == 1) {}

ProgressPrinter::~ProgressPrinter() {
    finish();
}

void ProgressPrinter::operator()(const ProgressEvent& event) {
    if (event.stage == "warning") { // a message for the user, not progress
        finish();
        std::fprintf(stderr, "warning: %s\n", event.detail.c_str());
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool newStage = event.stage != m_stage;
    if (newStage) {
        finish();
        m_stage = event.stage;
        m_stageStart = now;
    }
    const bool complete = event.total > 0 && event.done >= event.total;
    const auto interval = m_terminal ? kTerminalInterval : kLogInterval;
    // A log gets a line when a stage starts, one every few seconds and one at its end; a
    // terminal gets a line that updates in place.
    const bool due = newStage || now - m_lastPrint >= interval;
    if (!complete && !due)
        return;
    m_lastPrint = now;

    const double elapsed = std::chrono::duration<double>(now - m_stageStart).count();
    char line[256];
    int n = std::snprintf(line, sizeof line, "[%s] %lld", event.stage.c_str(),
                          static_cast<long long>(event.done));
    if (event.total > 0) {
        const double fraction = static_cast<double>(event.done) / static_cast<double>(event.total);
        n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), "/%lld (%.0f%%)",
                           static_cast<long long>(event.total), 100.0 * fraction);
        if (fraction > 0.0 && !complete)
            n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), ", ETA %.0f s",
                               elapsed * (1.0 - fraction) / fraction);
    }
    if (!event.detail.empty())
        std::snprintf(line + n, sizeof line - static_cast<size_t>(n), " %s", event.detail.c_str());
    if (m_terminal) {
        std::fprintf(stderr, "\r\033[K%s", line);
        m_lineOpen = true;
    } else {
        std::fprintf(stderr, "%s\n", line);
    }
    std::fflush(stderr);
}

void ProgressPrinter::finish() {
    if (m_lineOpen) {
        std::fputc('\n', stderr);
        m_lineOpen = false;
    }
}

} // namespace rs::cli
