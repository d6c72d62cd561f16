#include "args.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace rs::cli {

ParsedArgs::ParsedArgs(const CommandSpec& spec, const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h") {
            m_help = true;
            return;
        }
        if (arg.size() > 1 && arg.rfind("--", 0) == 0) {
            std::string name = arg;
            std::optional<std::string> inlineValue;
            if (const size_t eq = arg.find('='); eq != std::string::npos) {
                name = arg.substr(0, eq);
                inlineValue = arg.substr(eq + 1);
            }
            const auto spec_it = std::find_if(spec.options.begin(), spec.options.end(),
                                              [&](const OptionSpec& o) { return o.name == name; });
            if (spec_it == spec.options.end())
                throw UsageError("unknown option " + name + " for '" + spec.name + "'");
            if (spec_it->valueName.empty()) {
                if (inlineValue)
                    throw UsageError("option " + name + " takes no value");
                m_values.emplace_back(name, "");
            } else if (inlineValue) {
                m_values.emplace_back(name, *inlineValue);
            } else {
                if (i + 1 >= args.size())
                    throw UsageError("option " + name + " needs a value (" + spec_it->valueName +
                                     ")");
                m_values.emplace_back(name, args[++i]);
            }
            continue;
        }
        m_positionals.push_back(arg);
    }
    const bool variadic = !spec.positionals.empty() && spec.positionals.back().ends_with("...");
    const bool countOk = variadic ? m_positionals.size() >= spec.positionals.size()
                                  : m_positionals.size() == spec.positionals.size();
    if (!countOk) {
        std::string expected;
        for (const std::string& p : spec.positionals)
            expected += (expected.empty() ? "" : " ") + p;
        const std::string count =
            variadic ? "at least " + std::to_string(spec.positionals.size()) + " arguments ("
                     : "the argument(s) ";
        throw UsageError("'" + spec.name + "' expects " +
                         (expected.empty() ? std::string("no positional argument")
                                           : count + expected + (variadic ? ")" : "")) +
                         ", got " + std::to_string(m_positionals.size()));
    }
}

bool ParsedArgs::flag(const std::string& name) const {
    return std::any_of(m_values.begin(), m_values.end(),
                       [&](const auto& kv) { return kv.first == name; });
}

std::optional<std::string> ParsedArgs::value(const std::string& name) const {
    std::optional<std::string> found;
    for (const auto& [key, value] : m_values)
        if (key == name)
            found = value; // the last occurrence wins, as in most tools
    return found;
}

std::vector<std::string> ParsedArgs::values(const std::string& name) const {
    std::vector<std::string> found;
    for (const auto& [key, value] : m_values)
        if (key == name)
            found.push_back(value);
    return found;
}

std::string ParsedArgs::valueOr(const std::string& name, const std::string& fallback) const {
    return value(name).value_or(fallback);
}

std::optional<long long> ParsedArgs::integer(const std::string& name) const {
    const auto text = value(name);
    if (!text)
        return std::nullopt;
    long long number = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), number);
    if (ec != std::errc() || end != text->data() + text->size())
        throw UsageError("option " + name + " expects an integer, got '" + *text + "'");
    return number;
}

std::string formatHelp(const CommandSpec& spec) {
    std::ostringstream out;
    out << "usage: rankscope-cli " << spec.name << " " << spec.synopsis << "\n\n"
        << spec.description << "\n";
    if (!spec.options.empty()) {
        out << "\noptions:\n";
        for (const OptionSpec& o : spec.options) {
            std::string left = o.name + (o.valueName.empty() ? "" : " " + o.valueName);
            out << "  " << left;
            out << std::string(left.size() < 24 ? 24 - left.size() : 1, ' ') << o.help << "\n";
        }
    }
    out << "  --help                  show this help\n";
    return out.str();
}

std::optional<long long> positiveInteger(const ParsedArgs& args, const std::string& name) {
    const auto number = args.integer(name);
    if (number && *number < 1)
        throw UsageError(name + " must be at least 1, got " + std::to_string(*number));
    return number;
}

std::vector<std::string> outputPaths(const CommandSpec& spec, const ParsedArgs& args) {
    std::vector<std::string> paths;
    for (size_t i = 0; i < spec.positionals.size(); ++i)
        if (spec.positionals[i] == kOutputFile)
            paths.push_back(args.positional(i));
    for (const OptionSpec& option : spec.options)
        if (const auto value = args.value(option.name); value && option.valueName == kOutputFile)
            paths.push_back(*value);
    return paths;
}

} // namespace rs::cli
