#pragma once

#include <ATen/ATen.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

// Small helpers shared by the benchmark executables: wall-clock timing and peak memory.
namespace rs::bench {

inline double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The 1, 5 and 15 minute load averages ("0.61 0.80 1.02"), printed beside timings.
inline std::string loadAverage() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
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

// Waits for the work queued on `device` (a GPU runs it asynchronously), so that a timer read
// afterwards covers it: a copy to the host waits for everything queued before it.
inline void synchronize(const at::Device& device) {
    if (!device.is_cpu())
        at::zeros({1}, at::TensorOptions().device(device)).cpu();
}

// Seconds since `start` once the work queued on `device` is done.
inline double deviceSecondsSince(std::chrono::steady_clock::time_point start,
                                 const at::Device& device) {
    synchronize(device);
    return secondsSince(start);
}

// "--device=cuda" among the arguments, else the CPU; exits naming the value when it is no device.
inline at::Device deviceArgument(int argc, char** argv) {
    const std::string prefix = "--device=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(prefix, 0) != 0)
            continue;
        try {
            return at::Device(arg.substr(prefix.size()));
        } catch (const std::exception&) {
            std::fprintf(stderr, "%s: not a device (cpu, cuda, cuda:N)\n", arg.c_str());
            std::exit(2);
        }
    }
    return at::kCPU;
}

// Best of several runs of a square fp32 matmul on `device`, in GFLOP/s: the machine's figure that
// forward passes are measured against.
inline double matmulGflops(int64_t n, int repeats, const at::Device& device = at::kCPU) {
    const auto options = at::TensorOptions().device(device);
    const at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
    at::mm(a, b); // warm-up
    synchronize(device);
    double best = 0.0;
    for (int i = 0; i < repeats; ++i) {
        const auto start = std::chrono::steady_clock::now();
        at::mm(a, b);
        const double seconds = deviceSecondsSince(start, device);
        best = std::max(best, 2.0 * double(n) * double(n) * double(n) / seconds / 1e9);
    }
    return best;
}

inline std::string sharedData(const std::string& relative) {
    return std::string(RANKSCOPE_SHARED_DATA) + "/" + relative;
}

} // namespace rs::bench
