#pragma once

#include "util/progress.h"

#include <chrono>
#include <string>

namespace rs::cli {

// Renders job progress on stderr: an updating line on a terminal, throttled plain lines
// otherwise (logs, CI), so long runs show signs of life without flooding the output.
class ProgressPrinter {
public:
    ProgressPrinter();
    ~ProgressPrinter();
    void operator()(const ProgressEvent& event);
    void finish();

private:
    bool m_terminal = false;
    bool m_lineOpen = false;
    std::string m_stage;
    std::chrono::steady_clock::time_point m_stageStart;
    std::chrono::steady_clock::time_point m_lastPrint;
};

} // namespace rs::cli
