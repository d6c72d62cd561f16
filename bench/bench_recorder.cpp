// Recorded compression runs: what reusing saved calibration statistics saves. Each model is
// compressed twice with the same calibration (3-bit RTN, EoRA at rank 8, per-layer analysis
// off): the first run calibrates and saves the statistics, the second reads them back. Prints
// the calibrate stage and the whole run of both, the bytes saved, and the time the store took.
//
// Usage: bench_recorder [--skip-125m]   (the 125M model: a randomly initialised LLaMA of that
// shape with the stories260K tokenizer, calibrated on 8,192 tokens)
#include "bench_common.h"
#include "model/synthetic.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "util/text.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace {

using Clock = std::chrono::steady_clock;

double stage(const rs::CompressResult& r, const std::string& name) {
    for (const auto& [s, seconds] : r.stageSeconds)
        if (s == name)
            return seconds;
    return 0.0;
}

void benchModel(const std::string& label, const std::filesystem::path& model,
                const rs::OpenOptions& open, int64_t calibTokens) {
    const auto dir = std::filesystem::temp_directory_path() / "rankscope_bench_recorder";
    std::filesystem::remove_all(dir);
    auto store = rs::ExperimentStore::open(dir / "rankscope.db");
    rs::ArtefactCache cache(dir / "cache");
    auto session = rs::ModelSession::open(model, open);

    rs::CompressRequest request;
    request.inputs.calibText = rs::bench::sharedData("text/tinystories/calib.txt");
    request.inputs.calibTokens = calibTokens;
    request.compression =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    request.compensations = {rs::MethodConfig::parse("eora", rs::MethodKind::Compensation)};
    request.ranks = {8};
    request.inputs.analyze = false;

    std::printf("\n== %s: %s calibration tokens ==\n", label.c_str(),
                calibTokens ? rs::formatCount(calibTokens).c_str() : "all");
    double calibrate[2] = {0, 0}, total[2] = {0, 0};
    for (int run = 0; run < 2; ++run) {
        const auto start = Clock::now();
        const rs::RecordedCompression r =
            rs::runRecordedCompression(*session, request, *store, cache);
        total[run] = rs::bench::secondsSince(start);
        calibrate[run] = stage(r.result, "calibrate");
        std::printf("  run %d: calibrate %7.3f s  compress %7.3f s  whole run %7.3f s  (%s, %s "
                    "tokens)\n",
                    run + 1, calibrate[run], stage(r.result, "compress"), total[run],
                    r.calibrationReused ? "statistics reused" : "calibrated, statistics saved",
                    rs::formatCount(r.result.calibrationTokens).c_str());
    }
    uint64_t bytes = 0;
    for (const rs::ArtefactRecord& a : store->artefacts())
        bytes += static_cast<uint64_t>(a.bytes);
    std::printf("  calibration %.1fx faster when reused (%.3f s saved per run); statistics on "
                "disk %s; peak RSS %.0f MiB\n",
                calibrate[0] / std::max(calibrate[1], 1e-9), calibrate[0] - calibrate[1],
                rs::formatBytes(bytes).c_str(), rs::bench::peakRssMiB());
    std::filesystem::remove_all(dir);
}

} // namespace

int main(int argc, char** argv) {
    const bool skip125m = argc > 1 && std::strcmp(argv[1], "--skip-125m") == 0;
    rs::initializeRuntime();
    benchModel("stories260K", rs::bench::sharedData("models/stories260K"), {}, 0);
    if (!skip125m) {
        const auto dir = std::filesystem::temp_directory_path() / "rankscope_bench_llama125m";
        rs::writeRandomLlama(dir, rs::llama125mConfig(), 125);
        rs::OpenOptions open;
        open.tokenizer = rs::bench::sharedData("models/stories260K/tokenizer.bin");
        benchModel("llama-125M (random weights)", dir, open, 8192);
        std::filesystem::remove_all(dir);
    }
    return 0;
}
