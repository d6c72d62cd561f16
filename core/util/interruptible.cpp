#include "util/interruptible.h"

#include <mutex>
#include <vector>

namespace rs {

namespace {

struct AbandonedWork {
    std::mutex mutex;
    std::vector<std::thread> threads;

    // Also at exit: a process must not unload the libraries under a running decomposition.
    ~AbandonedWork() { joinAll(); }

    void joinAll() {
        std::vector<std::thread> running;
        {
            const std::lock_guard<std::mutex> lock(mutex);
            running.swap(threads);
        }
        for (std::thread& thread : running)
            thread.join();
    }
};

AbandonedWork& abandoned() {
    static AbandonedWork work;
    return work;
}

} // namespace

void abandonWork(std::thread worker) {
    AbandonedWork& work = abandoned();
    const std::lock_guard<std::mutex> lock(work.mutex);
    work.threads.push_back(std::move(worker));
}

void waitForAbandonedWork() {
    abandoned().joinAll();
}

} // namespace rs
