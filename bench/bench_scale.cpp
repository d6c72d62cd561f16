// Block-streaming at real model sizes: runs rankscope-cli on a large checkpoint (e.g. the
// TinyLlama-1.1B-shaped one that make_scale_model writes) and prints, per command, the wall time
// and the peak resident memory of the process, beside the machine's fp32 matmul throughput
// measured in the same run. Targets (TinyLlama shape): info under 1 s and 300 MB; eval at
// seq_len 2048 under 1.5 GB; compress W4 g128 + EoRA r64 under 2.5 GB.
//
//   bench_scale MODEL_DIR [--cli PATH] [--calib-tokens N] [--eval-windows N] [--skip-sequential]
//               [--skip-compress] [--analysis] [--max-memory SIZE] [--device DEV]
// (--device: eval and compress run there, e.g. cuda; the peak memory printed is the host's)
// Compression runs without the per-layer analysis unless --analysis is given.
#include "bench_common.h"

#include <ATen/ATen.h>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Measured {
    double seconds = 0.0;
    double peakMiB = 0.0;
    int status = 0;
};

// Runs a command as a child process under /usr/bin/time, whose own footprint is tiny: the
// child's maximum RSS from wait4() would also count this process's memory at the time of the
// spawn (Linux carries the old address space's high-water mark across exec). `quiet` sends the
// child's standard output to /dev/null.
Measured runChild(const std::vector<std::string>& command, bool quiet = false) {
    const std::string report = "/tmp/bench_scale_time." + std::to_string(getpid());
    std::vector<std::string> argv = {"/usr/bin/time", "-q", "-f", "%M", "-o", report};
    argv.insert(argv.end(), command.begin(), command.end());
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::printf("$");
    for (const std::string& a : command)
        std::printf(" %s", a.c_str());
    std::printf("\n");
    std::fflush(stdout);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (quiet)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const auto start = Clock::now();
    const int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        std::fprintf(stderr, "cannot run /usr/bin/time (install the 'time' package)\n");
        return {0, 0, -1};
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Measured m{rs::bench::secondsSince(start), 0.0, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
    std::ifstream in(report);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty())
            last = line; // the figure is the last line; a failed command adds one before it
    std::remove(report.c_str());
    try {
        m.peakMiB = std::stod(last) / 1024.0;
    } catch (const std::exception&) {
        m.status = -1;
    }
    return m;
}

void report(const char* what, const Measured& m, double targetMiB) {
    std::printf("%-44s %8.2f s  peak RSS %8.1f MiB  (target %s%.0f MiB)%s\n\n", what, m.seconds,
                m.peakMiB, targetMiB > 0 ? "< " : "", targetMiB, m.status == 0 ? "" : "  FAILED");
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_scale MODEL_DIR [--cli PATH] [--calib-tokens N] "
                             "[--eval-windows N] [--skip-sequential] [--skip-compress] "
                             "[--max-memory SIZE] [--device DEV]\n");
        return 2;
    }
    const std::string model = argv[1];
    std::string cli = "app/rankscope-cli", calibTokens = "16384", evalWindows = "2", maxMemory;
    std::string device = "cpu";
    bool sequential = true, compress = true, analysis = false;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--cli")
            cli = next();
        else if (a == "--calib-tokens")
            calibTokens = next();
        else if (a == "--eval-windows")
            evalWindows = next();
        else if (a == "--skip-sequential")
            sequential = false;
        else if (a == "--skip-compress")
            compress = false;
        else if (a == "--analysis")
            analysis = true;
        else if (a == "--max-memory")
            maxMemory = next();
        else if (a == "--device")
            device = next();
    }
    std::printf("fp32 matmul 2048^3, best of 5: %.1f GFLOP/s\n\n",
                rs::bench::matmulGflops(2048, 5));

    const std::string calib = rs::bench::sharedData("text/tinystories/calib.txt");
    const std::string wiki = rs::bench::sharedData("text/wikitext-2/wiki.test.raw");
    std::vector<std::string> common = {"--device", device};
    if (!maxMemory.empty())
        common.insert(common.end(), {"--max-memory", maxMemory});
    const auto with = [&](std::vector<std::string> args) {
        args.insert(args.end(), common.begin(), common.end());
        return args;
    };

    report("info", runChild({cli, "info", model}, true), 300);
    report(("eval, seq_len 2048, " + evalWindows + " windows").c_str(),
           runChild(with({cli, "eval", model, "--text", wiki, "--seq-len", "2048", "--max-windows",
                          evalWindows})),
           1536);
    if (!compress)
        return 0;
    for (const std::string mode : {"parallel", "sequential"}) {
        if (mode == "sequential" && !sequential)
            continue;
        std::vector<std::string> args = {cli,
                                         "compress",
                                         model,
                                         "--calib",
                                         calib,
                                         "--calib-tokens",
                                         calibTokens,
                                         "--calib-mode",
                                         mode,
                                         "--method",
                                         "rtn:bits=4,group=128",
                                         "--comp",
                                         "eora",
                                         "--rank",
                                         "64",
                                         "--no-store"};
        if (!analysis)
            args.push_back("--no-analysis");
        report(("compress W4 g128 + EoRA r64, " + calibTokens + " tokens, " + mode).c_str(),
               runChild(with(args)), 2560);
    }
    return 0;
}
