// Re-planning speed of the rank-budget planner at LLaMA-8B scale: 32 blocks x 7 linears = 224
// layers, curves of length min(d_out, d_in) + 1 = 4097. The planner is built once (hulls and
// the global order); every slider move then calls optimal() for a new budget.
#include "bench_common.h"
#include "budget/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <time.h>

namespace {

struct Shape {
    const char* kind;
    int64_t out;
    int64_t in;
};

// LLaMA-3-8B: hidden 4096, 8 KV heads of 128, intermediate 14336.
constexpr Shape kShapes[] = {{"self_attn.q_proj", 4096, 4096}, {"self_attn.k_proj", 1024, 4096},
                             {"self_attn.v_proj", 1024, 4096}, {"self_attn.o_proj", 4096, 4096},
                             {"mlp.gate_proj", 14336, 4096},   {"mlp.up_proj", 14336, 4096},
                             {"mlp.down_proj", 4096, 14336}};

// E(r) = sum_{i > r} s_i^2 with a power-law spectrum and noise, like the EoRA curve of a
// quantization error (close to flat, which makes long hulls: the hard case).
std::vector<double> curve(int64_t n, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(0.5, 1.5);
    const double decay = 0.2 + 0.6 * u(rng) / 1.5;
    std::vector<double> s(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        s[size_t(i)] = std::pow(double(i + 1), -decay) * u(rng);
    std::sort(s.rbegin(), s.rend());
    std::vector<double> e(size_t(n) + 1, 0.0);
    for (int64_t r = n - 1; r >= 0; --r)
        e[size_t(r)] = e[size_t(r) + 1] + s[size_t(r)] * s[size_t(r)];
    return e;
}

// CPU time of this thread: on a shared machine wall time also counts other processes' slices.
double threadCpuMs() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return 1e3 * double(t.tv_sec) + 1e-6 * double(t.tv_nsec);
}

struct Stats {
    double mean = 0, median = 0, p99 = 0, max = 0;
};

Stats summarize(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    Stats s;
    for (double t : ms)
        s.mean += t / double(ms.size());
    s.median = ms[ms.size() / 2];
    s.p99 = ms[ms.size() * 99 / 100];
    s.max = ms.back();
    return s;
}

void run(const std::vector<rs::PlanLayer>& layers, int64_t align, std::mt19937_64& rng) {
    rs::PlanConstraints constraints;
    constraints.align = align;
    auto start = std::chrono::steady_clock::now();
    const rs::RankPlanner planner(layers, constraints);
    const double build = rs::bench::secondsSince(start);

    const int64_t full = planner.maxParameters();
    std::uniform_int_distribution<int64_t> budget(0, full / 8); // up to ~ uniform rank 512
    std::vector<double> wall, cpu;
    double sink = 0;
    for (int i = 0; i < 2000; ++i) {
        const int64_t b = budget(rng);
        const double cpuStart = threadCpuMs();
        start = std::chrono::steady_clock::now();
        const rs::Plan plan = planner.optimal(b);
        wall.push_back(1e3 * rs::bench::secondsSince(start));
        cpu.push_back(threadCpuMs() - cpuStart);
        sink += plan.objective;
    }
    const Stats w = summarize(wall), c = summarize(cpu);
    const rs::Plan u = planner.uniform(64);
    const rs::Plan o = planner.optimal(u.parameters);
    std::printf("align %-3lld  %zu hull segments, built in %.1f ms; re-plan over 2000 random "
                "budgets (target < 5 ms):\n",
                static_cast<long long>(align), planner.segmentCount(), 1e3 * build);
    std::printf("           CPU  mean %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms\n", c.mean,
                c.median, c.p99, c.max);
    std::printf("           wall mean %.3f ms, median %.3f ms, p99 %.3f ms, max %.3f ms\n", w.mean,
                w.median, w.p99, w.max);
    std::printf("           uniform rank 64 (%lld params): error %.6g; planned: %.6g "
                "(lower bound %.6g)%s\n",
                static_cast<long long>(u.parameters), u.objective, o.objective, o.lowerBound,
                sink < 0 ? " " : "");
}

} // namespace

int main() {
    std::mt19937_64 rng(20261201);
    std::vector<rs::PlanLayer> layers;
    for (int block = 0; block < 32; ++block)
        for (const Shape& s : kShapes) {
            rs::PlanLayer l;
            l.name = "model.layers." + std::to_string(block) + "." + s.kind;
            l.outFeatures = s.out;
            l.inFeatures = s.in;
            l.curve = curve(std::min(s.out, s.in), rng);
            l.weight = 1.0 / l.curve.front();
            layers.push_back(std::move(l));
        }
    std::printf("rank planner: %zu layers, curves of %zu points (LLaMA-8B shapes)\n", layers.size(),
                layers.front().curve.size());
    for (int64_t align : {1, 8, 16})
        run(layers, align, rng);
    return 0;
}
