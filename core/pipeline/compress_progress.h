#pragma once

#include "util/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

// A compression job's progress as one stage, "compress", over the block loop and the output
// head, so that a time-left estimate covers the job's work and not one block's: per block, one
// step for calibrating, compressing and compensating its linears and one per evaluation pass
// through it (the original model's, then each variant's); after the last block, one step per pass
// through the output head. The detail names the step and, during a pass, its windows:
// "block 3/22: evaluate eora@8, window 40/93".
class CompressProgress {
public:
    // `passes` names the evaluation passes in the order they run ("original", "eora@8", ...).
    CompressProgress(const JobContext& job, int64_t blocks, std::vector<std::string> passes);

    int64_t total() const;
    // Block k's linears are next.
    void compressing(int64_t k) const;
    // Pass `pass` has passed `window` of its `windows` windows through block k (k == blocks: the
    // output head).
    void evaluating(int64_t k, size_t pass, int64_t window, int64_t windows) const;
    // The context of pass `pass` at block k: `quiet`'s cancellation and memory, with the pass's
    // own reports (StreamingPerplexity's "evaluate", k * windows + window of all blocks'
    // windows) turned into evaluating().
    JobContext passContext(int64_t k, size_t pass, const JobContext& quiet) const;
    void finished() const;

private:
    int64_t stepsPerBlock() const { return 1 + int64_t(m_passes.size()); }
    std::string where(int64_t k) const; // "block 3/22" (counted from 1) or "output head"

    const JobContext& m_job;
    int64_t m_blocks;
    std::vector<std::string> m_passes;
};

} // namespace rs
