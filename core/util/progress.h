#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace rs {

struct MemoryBudget;
class Communicator;

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

// Installs a job's token on the calling thread for the lifetime of the scope, for numerical
// kernels that sit below the jobs and take no JobContext (eigensolvers, blocked products): their
// loops call cancellationPoint() between blocks of work, so a cancel is honoured within one block
// rather than after a whole decomposition. Scopes nest; the innermost token is the one polled.
class CancelScope {
public:
    explicit CancelScope(CancelToken token);
    ~CancelScope();
    CancelScope(const CancelScope&) = delete;
    CancelScope& operator=(const CancelScope&) = delete;

private:
    CancelToken m_token;
    const CancelScope* m_outer;
    friend bool cancellationRequested();
};

// Throws rs::CancelledError when the token of this thread's innermost CancelScope was cancelled;
// does nothing on a thread without one.
void cancellationPoint();
// Whether this thread runs inside a CancelScope, and whether its token was cancelled.
bool cancellationPossible();
bool cancellationRequested();

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
    // The processes the job is spread over (dist/communicator.h); null: this process alone.
    // Every rank runs the job with the same inputs; only rank 0 records and writes.
    std::shared_ptr<Communicator> group;
    // Rank 0 of a command the other ranks follow: each compression it starts is announced to
    // them first (pipeline/distributed.h).
    bool leadsFollowers = false;

    void report(const std::string& stage, int64_t done, int64_t total,
                const std::string& detail = {}) const {
        if (progress)
            progress(ProgressEvent{stage, detail, done, total});
    }
};

} // namespace rs
