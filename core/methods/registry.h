#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

// The one table of methods that the CLI flags, the GUI controls and the experiment store all read.
// A method is identified by a short id ("rtn", "gptq", "eora") and configured by typed parameters;
// its configuration serialises to the same compact text the CLI accepts ("rtn:bits=3,group=32"),
// so a stored experiment can be re-run exactly.

enum class MethodKind {
    Compression,  // produces W_c from W (quantizers, sparsifiers, combinations)
    Compensation, // fits a low-rank path B A to the error W - W_c
    LowRank,      // replaces W by low-rank factors (LoRD, Lillama)
};

enum class ParamType { Int, Float, Bool, Choice };

struct ParamSpec {
    std::string key;   // "bits"
    std::string label; // "Bits" (GUI label)
    ParamType type = ParamType::Int;
    std::string defaultValue;         // canonical text of the default, e.g. "4"
    std::vector<std::string> choices; // allowed values for Int (when non-empty) and Choice
    double minValue = 0.0;            // range for Int/Float when choices is empty
    double maxValue = 0.0;
    std::string help;
};

struct MethodSpec {
    std::string id;
    std::string name;        // display name
    std::string description; // one or two sentences for tooltips and --help
    MethodKind kind = MethodKind::Compression;
    std::vector<ParamSpec> params;

    const ParamSpec* param(std::string_view key) const;
};

// A validated method choice: the id plus a value for every parameter of its spec (defaults
// filled in), each stored in canonical text form.
class MethodConfig {
public:
    MethodConfig() = default;

    // Parses "id" or "id:key=value,key=value" against the registry for `kind`. Unknown ids or
    // keys, values of the wrong type or outside the range fail with a message naming the method,
    // the parameter and the allowed values.
    static MethodConfig parse(std::string_view text, MethodKind kind);
    // The defaults of one method.
    static MethodConfig defaults(std::string_view id, MethodKind kind);

    const std::string& id() const { return m_id; }
    MethodKind kind() const { return m_kind; }
    const MethodSpec& spec() const;

    int64_t integer(std::string_view key) const;
    double real(std::string_view key) const;
    bool flag(std::string_view key) const;
    const std::string& text(std::string_view key) const;

    // Sets one parameter (validated like parse()).
    void set(std::string_view key, std::string_view value);

    // "rtn:bits=3,group=32,sym=false" with every parameter in spec order; parse() of it gives an
    // equal config.
    std::string serialize() const;

    const std::map<std::string, std::string, std::less<>>& values() const { return m_values; }
    bool operator==(const MethodConfig& other) const = default;

private:
    std::string m_id;
    MethodKind m_kind = MethodKind::Compression;
    std::map<std::string, std::string, std::less<>> m_values;
};

// Every method, in display order.
const std::vector<MethodSpec>& methodRegistry();
std::vector<const MethodSpec*> methodsOfKind(MethodKind kind);
const MethodSpec* findMethod(std::string_view id, MethodKind kind);
const char* methodKindName(MethodKind kind);

} // namespace rs
