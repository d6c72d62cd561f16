// Coverage feedback for fuzz targets built with GCC. GCC's -fsanitize-coverage=trace-pc calls
// __sanitizer_cov_trace_pc() at every edge, which libFuzzer no longer reads. The targets link
// with -Wl,--wrap=__sanitizer_cov_trace_pc, so the calls land here instead: each call site's
// address is hashed into a table of 8-bit counters that libFuzzer is given at start-up exactly
// like clang's inline counters, with one made-up "PC" per counter so that cov: counts them.

#include <cstddef>
#include <cstdint>

extern "C" void __sanitizer_cov_8bit_counters_init(uint8_t* start, uint8_t* stop);
extern "C" void __sanitizer_cov_pcs_init(const uintptr_t* begin, const uintptr_t* end);

namespace {

constexpr size_t kCounters = size_t(1) << 18;
uint8_t counters[kCounters];
uintptr_t pcTable[2 * kCounters]; // pairs of (PC, flags), as clang's pc-table

__attribute__((constructor)) void registerCounters() {
    for (size_t i = 0; i < kCounters; ++i)
        pcTable[2 * i] = i + 1;
    __sanitizer_cov_8bit_counters_init(counters, counters + kCounters);
    __sanitizer_cov_pcs_init(pcTable, pcTable + 2 * kCounters);
}

} // namespace

extern "C" void __wrap___sanitizer_cov_trace_pc() {
    const auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
    ++counters[(pc ^ (pc >> 18)) % kCounters];
}

// GCC's trace-cmp also reports floating-point comparisons, which libFuzzer has no use for.
extern "C" void __sanitizer_cov_trace_cmpf(float, float) {}
extern "C" void __sanitizer_cov_trace_cmpd(double, double) {}
