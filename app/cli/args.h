#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace rs::cli {

// A mistake in how the command was called (exit code 2), as opposed to a failure of the work.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string name;      // "--max-tokens"
    std::string valueName; // "N"; empty for a flag
    std::string help;
};

struct CommandSpec {
    std::string name;     // "eval"
    std::string synopsis; // "MODEL --text FILE [...]"
    std::string description;
    // Names of the required positional arguments; a last name ending in "..." ("ID...") takes
    // one or more.
    std::vector<std::string> positionals;
    std::vector<OptionSpec> options;
};

// The value name of an option or positional that names a file the command writes: a file already
// there is refused unless --force is given, before any work starts.
inline constexpr const char* kOutputFile = "OUT_FILE";

// Parsed arguments of one command, validated against its spec: unknown options, missing values
// and a wrong number of positionals are UsageErrors.
class ParsedArgs {
public:
    ParsedArgs(const CommandSpec& spec, const std::vector<std::string>& args);

    bool helpRequested() const { return m_help; }
    bool flag(const std::string& name) const;
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const; // every occurrence, in order
    std::string valueOr(const std::string& name, const std::string& fallback) const;
    std::optional<long long> integer(const std::string& name) const; // validates the number
    const std::string& positional(size_t index) const { return m_positionals.at(index); }
    size_t positionalCount() const { return m_positionals.size(); }

private:
    std::vector<std::pair<std::string, std::string>> m_values;
    std::vector<std::string> m_positionals;
    bool m_help = false;
};

std::string formatHelp(const CommandSpec& spec);

// An option's value when given, which must be a whole number of at least 1 (else a UsageError).
std::optional<long long> positiveInteger(const ParsedArgs& args, const std::string& name);

// The paths given for the spec's OUT_FILE positionals and options.
std::vector<std::string> outputPaths(const CommandSpec& spec, const ParsedArgs& args);

} // namespace rs::cli
