// rankscope-cli: the headless front end. Every command drives the same pipeline API as the GUI.
#include "commands.h"
#include "dist/communicator.h"
#include "pipeline/distributed.h"
#include "pipeline/session.h"
#include "progress_printer.h"
#include "util/argument_error.h"
#include "util/error.h"
#include "util/memory.h"
#include "util/text.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>

namespace {

rs::CancelToken g_cancel;

extern "C" void onInterrupt(int) {
    // The first Ctrl-C asks the job to stop cleanly; a second one terminates at once.
    g_cancel.cancel();
    std::signal(SIGINT, SIG_DFL);
}

void printOverview(const std::vector<rs::cli::Command>& commands) {
    std::cout
        << "usage: rankscope-cli COMMAND [ARGS] (rankscope-cli COMMAND --help for details)\n\n"
           "RankScope " RANKSCOPE_VERSION
           ": compress LLM linear layers and compensate them with low-rank paths.\n\n"
           "commands:\n";
    for (const auto& c : commands)
        std::cout << "  " << c.spec.name
                  << std::string(24 - std::min<size_t>(23, c.spec.name.size()), ' ')
                  << c.spec.description.substr(0, c.spec.description.find('\n')) << "\n";
    std::cout << "\nexit codes: 0 success, 1 failure, 2 usage error, 3 internal error, "
                 "130 cancelled\n";
}

} // namespace

namespace {

// The commands that rank 0 runs from its store while the other ranks follow the compressions it
// starts (pipeline/distributed.h).
bool ledByRankZero(const std::string& command) {
    return command == "plan" || command == "tradeoff";
}

// The commands whose work is spread over the processes of a distributed launch; the others
// (queries, exports) are refused there.
bool runsDistributed(const std::string& command) {
    return command == "compress" || command == "eval" || command == "lowrank" ||
           ledByRankZero(command);
}

// Runs the command on this rank: every rank runs it, except that the ranks that follow rank 0 run
// the compressions it announces instead.
int runOnRank(const rs::cli::Command& command, const rs::cli::ParsedArgs& args,
              rs::JobContext& job) {
    if (!job.group || !ledByRankZero(command.spec.name))
        return command.run(args, job);
    if (!job.group->leader()) {
        rs::followAnnouncements(job, [&](const std::filesystem::path& model) {
            return rs::ModelSession::open(model, rs::cli::openOptions(args), job);
        });
        return rs::cli::kExitOk;
    }
    job.leadsFollowers = true;
    const int code = command.run(args, job);
    rs::endAnnouncements(job);
    return code;
}

// Joins the other processes when a launcher (torchrun, srun, a script) started several. Rank 0
// prints and writes; the others' standard output goes nowhere (their errors still show).
std::shared_ptr<rs::Communicator> joinLaunch(const std::string& command) {
    const auto launch = rs::launchFromEnvironment();
    if (!launch || launch->worldSize == 1)
        return nullptr;
    if (!runsDistributed(command))
        rs::fail("rankscope-cli " + command,
                 "does not run distributed (WORLD_SIZE=" + std::to_string(launch->worldSize) +
                     "); run it in one process, without RANK, WORLD_SIZE and MASTER_ADDR");
    auto group = rs::Communicator::join(*launch, rs::distributedTimeout());
    group->requireSame("the command", command);
    if (!group->leader() && !std::freopen("/dev/null", "w", stdout))
        rs::fail("rank " + std::to_string(launch->rank), "cannot silence standard output");
    return group;
}

// A result file must never replace one the user kept by mistake: an existing path is refused
// before any work starts, unless --force says to replace it.
void refuseExistingOutputs(const rs::cli::CommandSpec& spec, const rs::cli::ParsedArgs& args) {
    for (const std::string& path : rs::cli::outputPaths(spec, args)) {
        std::error_code error;
        const auto status = std::filesystem::status(path, error);
        if (std::filesystem::is_directory(status))
            rs::fail(path, "is a directory; name the file to write");
        if (std::filesystem::exists(status) && !args.flag("--force"))
            rs::fail(path, "already exists; pass --force to replace it");
        // Known before the job runs, not after it: the result would have nowhere to go.
        const std::filesystem::path parent = std::filesystem::path(path).parent_path();
        if (!parent.empty() && !std::filesystem::is_directory(parent, error))
            rs::fail(path,
                     "cannot be written: its directory " + parent.string() + " does not exist");
    }
}

void reportDistribution(const rs::Communicator& group) {
    std::cerr << "distributed: " << group.size() << " processes, rank 0 exchanged "
              << rs::formatBytes(group.bytesExchanged()) << " (" << group.bytesExchanged()
              << " bytes)\n";
}

void reportMemory(const rs::MemoryBudget& budget) {
    std::cerr << "memory: peak " << rs::formatBytes(uint64_t(rs::peakResidentBytes()))
              << " resident (budget " << rs::formatBytes(uint64_t(2 * budget.bytes)) << ")";
    if (budget.spillFiles > 0)
        std::cerr << ", spilled " << rs::formatBytes(uint64_t(budget.spilledTotal.load()))
                  << " of carried states in " << budget.spillFiles << " file(s) under "
                  << budget.spillDir.string();
    std::cerr << "\n";
}

} // namespace

int main(int argc, char** argv) {
    using namespace rs::cli;
    const std::vector<Command> commands = allCommands();
    if (argc < 2) {
        printOverview(commands);
        return kExitUsage;
    }
    std::string name = argv[1];
    int first = 2; // index of the command's first argument
    // Grouped commands ("experiments list", "cache prune") are named by two words.
    const auto grouped = [&](const std::string& word) {
        return std::any_of(commands.begin(), commands.end(),
                           [&](const Command& c) { return c.spec.name.rfind(word + " ", 0) == 0; });
    };
    if (name == "--help" || name == "-h" || name == "help") {
        printOverview(commands);
        return kExitOk;
    }
    if (name == "--version") {
        std::cout << "rankscope-cli " RANKSCOPE_VERSION "\n";
        return kExitOk;
    }
    if (grouped(name)) {
        if (argc < 3 || argv[2][0] == '-') {
            std::cerr << "rankscope-cli " << name << ": missing subcommand; one of:\n";
            for (const auto& c : commands)
                if (c.spec.name.rfind(name + " ", 0) == 0)
                    std::cerr << "  rankscope-cli " << c.spec.name << " " << c.spec.synopsis
                              << "\n";
            return kExitUsage;
        }
        name += std::string(" ") + argv[2];
        first = 3;
    }
    const auto command = std::find_if(commands.begin(), commands.end(),
                                      [&](const Command& c) { return c.spec.name == name; });
    if (command == commands.end()) {
        std::cerr << "rankscope-cli: unknown command '" << name
                  << "' (rankscope-cli --help lists them)\n";
        return kExitUsage;
    }

    rs::initializeRuntime();
    std::signal(SIGINT, onInterrupt);
    ProgressPrinter printer;
    rs::JobContext job;
    job.cancel = g_cancel;
    // Errors name the rank in a distributed job: every process reports its own.
    const auto who = [&] {
        return job.group ? name + " (rank " + std::to_string(job.group->rank()) + " of " +
                               std::to_string(job.group->size()) + ")"
                         : name;
    };
    job.progress = [&printer](const rs::ProgressEvent& e) { printer(e); };
    try {
        const ParsedArgs args(command->spec, std::vector<std::string>(argv + first, argv + argc));
        if (args.helpRequested()) {
            std::cout << formatHelp(command->spec);
            return kExitOk;
        }
        const bool budgeted =
            std::any_of(command->spec.options.begin(), command->spec.options.end(),
                        [](const OptionSpec& o) { return o.name == "--max-memory"; });
        if (budgeted)
            job.memory = rs::jobMemoryBudget(maxMemory(args));
        job.group = joinLaunch(name);
        if (isWriter(job))
            refuseExistingOutputs(command->spec, args);
        if (job.group && !job.group->leader())
            job.progress = {}; // rank 0 shows the job's progress
        const int code = runOnRank(*command, args, job);
        printer.finish();
        if (job.group) {
            job.group->barrier(); // rank 0 serves the rendezvous: it leaves last
            if (job.group->leader())
                reportDistribution(*job.group);
        }
        if (budgeted && rs::cli::isWriter(job))
            reportMemory(*job.memory);
        return code;
    } catch (const UsageError& e) {
        printer.finish();
        if (job.group) // rank 0 may refuse a command the ranks that follow it are waiting on
            job.group->recordFailure(std::string("usage error: ") + e.what());
        std::cerr << "rankscope-cli " << name << ": " << e.what() << "\n"
                  << "usage: rankscope-cli " << name << " " << command->spec.synopsis << "\n";
        return kExitUsage;
    } catch (const rs::ArgumentError& e) {
        printer.finish();
        if (job.group)
            job.group->recordFailure(std::string("usage error: ") + e.what());
        std::cerr << "rankscope-cli " << who() << ": " << e.what() << "\n";
        return kExitUsage;
    } catch (const rs::CancelledError&) {
        printer.finish();
        if (job.group)
            job.group->recordFailure("cancelled");
        std::cerr << "rankscope-cli " << who() << ": cancelled\n";
        return kExitCancelled;
    } catch (const rs::Error& e) {
        printer.finish();
        if (job.group)
            job.group->recordFailure(e.what());
        std::cerr << "rankscope-cli " << who() << ": error: " << e.what() << "\n";
        return kExitFailure;
    } catch (const std::exception& e) {
        printer.finish();
        if (job.group)
            job.group->recordFailure(std::string("internal error: ") + e.what());
        std::cerr << "rankscope-cli " << who() << ": internal error: " << e.what() << "\n";
        return kExitInternal;
    }
}
