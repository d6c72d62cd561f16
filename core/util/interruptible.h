#pragma once

#include "util/error.h"
#include "util/progress.h"

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

namespace rs {

// How often a caller waiting on interruptible work looks at its cancel token.
inline constexpr std::chrono::milliseconds kCancelPollInterval{20};

// Hands a running thread over to be joined later (by waitForAbandonedWork).
void abandonWork(std::thread worker);

// Joins every thread that runInterruptible() left running after a cancel. Jobs call it before
// they start, so no two jobs' decompositions ever overlap in time or memory.
void waitForAbandonedWork();

// Runs `work` -- one library call that cannot stop half-way, such as a LAPACK reduction that takes
// seconds on a large layer -- so that a cancel is honoured within kCancelPollInterval: the work
// runs on its own thread while the caller polls the token of its CancelScope. On cancel the
// caller throws CancelledError at once and the thread finishes in the background (waited for by
// waitForAbandonedWork); `work` must therefore own everything it touches (capture tensors by
// value, never a caller's locals by reference). Without a CancelScope it simply runs inline.
template <typename Work> std::invoke_result_t<Work> runInterruptible(Work work) {
    using Result = std::invoke_result_t<Work>;
    if (!cancellationPossible())
        return work();
    auto task = std::make_shared<std::packaged_task<Result()>>(std::move(work));
    std::future<Result> done = task->get_future();
    std::thread worker([task] { (*task)(); });
    while (done.wait_for(kCancelPollInterval) != std::future_status::ready) {
        if (cancellationRequested()) {
            abandonWork(std::move(worker));
            throw CancelledError();
        }
    }
    worker.join();
    return done.get();
}

} // namespace rs
