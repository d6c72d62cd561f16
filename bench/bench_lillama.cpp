// Lillama on stories260K end to end (docs/design.md §2): calibration on calib.txt, SVD init and
// local distillation of every decoder layer at a 20 % parameter reduction with the registry's
// default settings, then perplexity on eval.txt. Target: under 5 minutes on the 2-core machine.
// Prints wall time per stage, the process CPU time (to tell a loaded machine from slow code)
// and each layer's loss before and after distillation.
//   bench_lillama [steps] [reduction-percent]
#include "bench_common.h"
#include "pipeline/lowrank_job.h"
#include "pipeline/session.h"

#include <cstdio>
#include <ctime>
#include <string>

int main(int argc, char** argv) {
    rs::initializeRuntime();
    const std::string steps = argc > 1 ? argv[1] : "";
    const double reduction = argc > 2 ? std::stod(argv[2]) : 20.0;
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpuStart = std::clock();

    const auto session = rs::ModelSession::open(rs::bench::sharedData("models/stories260K"));
    rs::LowRankRequest request;
    request.inputs.calibText = rs::bench::sharedData("text/tinystories/calib.txt");
    request.inputs.calibTokens = 0;
    request.method = rs::MethodConfig::defaults("lillama", rs::MethodKind::LowRank);
    if (!steps.empty())
        request.method.set("steps", steps);
    request.reductions = {reduction};
    request.inputs.evalText = rs::bench::sharedData("text/tinystories/eval.txt");
    request.inputs.analyze = false;
    const rs::LowRankResult r = rs::runLowRank(*session, request);

    const double wall = rs::bench::secondsSince(start);
    const double cpu = double(std::clock() - cpuStart) / CLOCKS_PER_SEC;
    const rs::LowRankVariant& v = r.variants.front();
    std::printf("lillama (%s) on stories260K, %lld calibration tokens, %.0f%% reduction\n",
                request.method.serialize().c_str(), static_cast<long long>(r.calibrationTokens),
                v.targetReduction);
    for (const rs::LayerDistillation& d : v.distillation)
        std::printf("  layer %lld: loss %.5f -> %.5f (best at step %lld) in %.1f s\n",
                    static_cast<long long>(d.block), d.initialLoss, d.bestLoss,
                    static_cast<long long>(d.bestStep), d.seconds);
    std::printf("parameters %lld -> %lld (%.2f%% fewer), perplexity %.4f\n",
                static_cast<long long>(v.parametersBefore),
                static_cast<long long>(v.parametersAfter), v.reductionPercent(),
                v.perplexity->perplexity);
    std::printf("stages:");
    for (const auto& [stage, seconds] : r.stageSeconds)
        std::printf(" %s %.1f s", stage.c_str(), seconds);
    std::printf("\ntotal wall %.1f s (target < 300 s), process CPU %.1f s, peak RSS %.0f MiB\n",
                wall, cpu, rs::bench::peakRssMiB());
    return wall < 300.0 ? 0 : 1;
}
