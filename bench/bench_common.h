#pragma once

#include <ATen/ATen.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

// Small helpers shared by the benchmark executables: wall-clock timing and peak memory.
namespace rs::bench {

inline double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Peak resident set size of this process so far, in MiB (VmHWM from /proc/self/status).
inline double peakRssMiB() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmHWM:") {
            double kib = 0;
            status >> kib;
            return kib / 1024.0;
        }
        status.ignore(1 << 16, '\n');
    }
    return 0.0;
}

// Best of several runs of a square fp32 matmul, in GFLOP/s: the machine's figure that forward
// passes are measured against.
inline double matmulGflops(int64_t n, int repeats) {
    const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
    at::mm(a, b); // warm-up
    double best = 0.0;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        at::mm(a, b);
        best = std::max(best, 2.0 * double(n) * double(n) * double(n) / secondsSince(start) / 1e9);
    }
    return best;
}

inline std::string sharedData(const std::string& relative) {
    return std::string(RANKSCOPE_SHARED_DATA) + "/" + relative;
}

} // namespace rs::bench
