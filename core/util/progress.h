#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace rs {

struct MemoryBudget;

// Shared flag a UI or a signal handler sets to ask a running job to stop. Jobs poll it between
// small units of work (a window, a layer, a block of columns) so a request is honoured quickly.
class CancelToken {
public:
    CancelToken()
        : m_flag(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const { m_flag->store(true, std::memory_order_relaxed); }
    bool isCancelled() const { return m_flag->load(std::memory_order_relaxed); }
    // Throws rs::CancelledError when cancellation was requested.
    void throwIfCancelled() const;

private:
    std::shared_ptr<std::atomic<bool>> m_flag;
};

struct ProgressEvent {
    std::string stage;  // e.g. "evaluate", "calibrate"
    std::string detail; // e.g. the layer name; may be empty
    int64_t done = 0;   // units finished in this stage
    int64_t total = 0;  // units in this stage (0 when unknown)
};

using ProgressFn = std::function<void(const ProgressEvent&)>;

// What every long operation takes: where to report, and how to learn that it should stop.
struct JobContext {
    ProgressFn progress;
    CancelToken cancel;
    // The job's memory budget for carried states; null: everything stays in memory.
    std::shared_ptr<MemoryBudget> memory;

    void report(const std::string& stage, int64_t done, int64_t total,
                const std::string& detail = {}) const {
        if (progress)
            progress(ProgressEvent{stage, detail, done, total});
    }
};

} // namespace rs
