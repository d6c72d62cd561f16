#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rs {

// What a job may hold in memory besides one decoder block, and where the rest goes. Streaming
// engines keep the states they carry from block to block (hidden states of every window) in
// memory while the total stays within `bytes` and spill the rest to temporary files under
// `spillDir`. Shared by every engine of one job; the counters are what the run reports.
struct MemoryBudget {
    int64_t bytes = 0;                    // 0: unbounded
    std::filesystem::path spillDir;       // empty: the system's temporary directory
    std::atomic<int64_t> carriedBytes{0}; // in memory now
    std::atomic<int64_t> spilledBytes{0}; // in spill files now
    std::atomic<int64_t> spilledTotal{0}; // ever spilled
    std::atomic<int64_t> spillFiles{0};   // ever created

    // Claims `bytes` of carried memory when they fit the budget; false when they must spill.
    bool claim(int64_t size);
    void release(int64_t size) { carriedBytes -= size; }
};

// Physical memory of the machine, in bytes.
int64_t physicalMemoryBytes();
// `requested` bytes, or by default half of the machine's physical memory (at least 1 GiB).
int64_t resolveMemoryBudget(int64_t requested);
// Peak resident set of this process so far (VmHWM), in bytes; 0 where it cannot be read.
int64_t peakResidentBytes();
// Anonymous resident memory of this process now (RssAnon), in bytes; 0 where it cannot be read.
int64_t anonymousResidentBytes();
// Hands the allocator's free pages back to the system. The heap of a streaming job is freed
// block by block, but its free pages stay resident (fragmented among live allocations) unless
// returned; without this the resident set grows by tens of MB per block.
void returnFreedHeap();
// "2.5G", "800M", "64k", "1073741824" (binary units, optional "iB"/"B"); fails with
// "<what>: ..." for anything else or a size of zero.
int64_t parseByteSize(const std::string& text, const std::string& what);

} // namespace rs
