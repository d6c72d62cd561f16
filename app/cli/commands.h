#pragma once

#include "args.h"
#include "pipeline/session.h"
#include "store/experiment_store.h"
#include "util/progress.h"

#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace rs::cli {

// Exit codes: distinct so that scripts can tell a mistake in the call from a failed job.
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,    // the work failed (bad file, bad data, numerical error)
    kExitUsage = 2,      // the command line was wrong
    kExitInternal = 3,   // an unexpected internal error
    kExitCancelled = 130 // interrupted (Ctrl-C)
};

struct Command {
    CommandSpec spec;
    std::function<int(const ParsedArgs&, const JobContext&)> run;
};

// The options of every command that opens a model, and how they become OpenOptions.
extern const OptionSpec kDtype;
extern const OptionSpec kDevice;
extern const OptionSpec kTokenizer;
extern const OptionSpec kMaxMemory;
OpenOptions openOptions(const ParsedArgs& args);
// --max-memory in bytes (0 when not given); a UsageError for a bad size.
int64_t maxMemory(const ParsedArgs& args);

// --db PATH: every command that reads or writes the experiment store takes it; without it the
// database is $RANKSCOPE_DB or the XDG default (see defaultDatabasePath()).
extern const OptionSpec kDb;
std::filesystem::path databasePath(const ParsedArgs& args);
// The store of a command that needs what is already recorded there (reading, exporting, planning,
// deleting). Never creates one: a mistyped --db must not leave an empty database behind. A store
// the user may not write (an archive, a shared drive) opens read-only.
std::unique_ptr<ExperimentStore> openRecordedStore(const ParsedArgs& args);
// A positive experiment ID, or a UsageError.
int64_t experimentId(const std::string& text);

// A list option's values in util/lists.h's grammar, or a UsageError naming the option.
std::vector<int64_t> integerListArg(const std::string& text, const std::string& option,
                                    int64_t min = std::numeric_limits<int64_t>::min());
std::vector<double> percentListArg(const std::string& text, const std::string& option);

// Whether this process records, writes files and prints results: always in one process, rank 0
// alone in a job spread over several (the others compute their share and stay silent).
bool isWriter(const JobContext& job);

// Every command of rankscope-cli, in the order `--help` lists them.
std::vector<Command> allCommands();

// Per-area command lists, each defined in its own cmd_*.cpp.
std::vector<Command> modelCommands();
std::vector<Command> compressCommands();
std::vector<Command> storeCommands();
std::vector<Command> lowrankCommands();
std::vector<Command> exportCommands();
std::vector<Command> budgetCommands(); // plan, tradeoff
Command tradeoffCommand();
Command compareCommand(); // part of storeCommands()

} // namespace rs::cli
