#pragma once

#include "dist/launch.h"

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace rs {

// This process's membership in a job spread over several processes (possibly on several
// machines): torch.distributed's c10d engine, a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT and
// a Gloo process group. Every collective is entered by every rank in the same order; the jobs
// make sure of that by running the same code on every rank and deciding everything that could
// differ (cached statistics, the owner of a layer) on rank 0 or from shared inputs.
//
// Failures are values the user can act on: a rank that dies makes the collectives of the others
// fail as soon as its connections close, one that hangs after the timeout, and each message names
// the rank that reported a failure (see recordFailure) when it did.
class Communicator {
public:
    // Joins the job. Rank 0 serves the rendezvous store unless torchrun's agent already serves it
    // (TORCHELASTIC_USE_AGENT_STORE). Fails when not every rank arrives within `timeout`.
    static std::shared_ptr<Communicator> join(const LaunchEnvironment& env,
                                              std::chrono::milliseconds timeout);
    ~Communicator();
    Communicator(const Communicator&) = delete;
    Communicator& operator=(const Communicator&) = delete;

    int rank() const { return m_rank; }
    int size() const { return m_size; }
    bool leader() const { return m_rank == 0; }
    std::chrono::milliseconds timeout() const { return m_timeout; }

    // Element-wise sum over every rank, in place. float64 keeps sums of float64 statistics exact
    // up to summation order.
    void sum(at::Tensor& tensor);
    // `root`'s values, in place on every rank (shape and dtype must agree already).
    void broadcast(at::Tensor& tensor, int root);
    // Any value (tensors, numbers, strings, lists, dicts) `root` holds, on every rank, through
    // torch's pickle format; the other ranks' argument is ignored.
    c10::IValue broadcastValue(const c10::IValue& value, int root);
    // Fails on every rank with "<what> differs between ranks: ..." when `value` is not the same
    // on all of them (the model, the texts, the version, the request).
    void requireSame(const std::string& what, const std::string& value);
    void barrier();

    // The items [first, first + count) of `n` that this rank takes (contiguous, sizes differ by
    // at most one). Fails when there are fewer items than ranks, naming `items`.
    std::pair<int64_t, int64_t> share(int64_t n, const std::string& items) const;

    // Payload bytes of the collectives this rank took part in so far (sent plus received data,
    // as each rank holds it before and after the operation).
    uint64_t bytesExchanged() const { return m_bytes.load(); }

    // Leaves this rank's reason for stopping where the others can read it, so that their error
    // names it instead of a closed connection. Rank 0, which serves the store, also closes the
    // group (no collective may follow) and waits up to 3 s for the others to read it. Never
    // throws.
    void recordFailure(const std::string& reason) noexcept;

private:
    struct Impl;
    Communicator(int rank, int size, std::chrono::milliseconds timeout, std::unique_ptr<Impl> impl);
    template <typename Operation> void run(const char* name, uint64_t bytes, Operation&& op);
    [[noreturn]] void failCollective(const char* name, const std::string& cause);

    int m_rank = 0;
    int m_size = 1;
    std::chrono::milliseconds m_timeout;
    std::unique_ptr<Impl> m_impl;
    std::atomic<uint64_t> m_bytes{0};
};

} // namespace rs

#include "util/progress.h"

namespace rs {

// Whether `job` is spread over more than one process.
inline bool distributed(const JobContext& job) {
    return job.group && job.group->size() > 1;
}

} // namespace rs
