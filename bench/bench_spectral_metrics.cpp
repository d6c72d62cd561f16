// The WeightWatcher-style metrics of one weight (compensate/spectral_metrics.h) on spectra of real
// model widths: a heavy power-law tail above a Marchenko-Pastur-like bulk, as trained layers show.
// Timed beside the exhaustive cutoff search (every tail size, the previous method) in the same run,
// with the exponent each finds. The workbench computes these for every linear of an experiment
// when it opens one: 224 linears for a LLaMA-7B-shaped model.
//
// Usage: bench_spectral_metrics
#include "bench_common.h"
#include "compensate/spectral_metrics.h"
#include "spectral_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using rs::bench::loadAverage;
using rs::bench::secondsSince;

// n singular values: the top tenth a power law (alpha 3.5), the rest a flat bulk.
std::vector<double> spectrum(int n) {
    std::vector<double> singular;
    const int tail = n / 10;
    for (int i = 0; i < tail; ++i)
        singular.push_back(2.0 * std::pow((double(i) + 0.5) / double(tail), -1.0 / 5.0));
    for (int i = tail; i < n; ++i)
        singular.push_back(std::sqrt(0.05 + 0.95 * (double(i - tail) + 0.5) / double(n - tail)));
    std::sort(singular.begin(), singular.end(), std::greater<>());
    return singular;
}

} // namespace

int main() {
    std::printf("load average before: %s\n", loadAverage().c_str());
    std::printf("%8s %12s %10s %14s %10s %9s %16s\n", "width", "metrics ms", "alpha",
                "exhaustive ms", "alpha", "speed-up", "224 linears s");
    for (const int n : {1024, 4096, 8192}) {
        const std::vector<double> s = spectrum(n);
        auto start = std::chrono::steady_clock::now();
        const rs::SpectralMetrics m = rs::spectralMetrics(s);
        const double fast = secondsSince(start);
        start = std::chrono::steady_clock::now();
        const auto [alpha, distance] = rs::test::exhaustivePowerLawFit(s);
        const double slow = secondsSince(start);
        std::printf("%8d %12.2f %10.3f %14.1f %10.3f %8.0fx %16.2f\n", n, fast * 1e3, m.alpha,
                    slow * 1e3, alpha, slow / fast, 224 * fast);
        (void)distance;
    }
    std::printf("load average after: %s\n", loadAverage().c_str());
    return 0;
}
