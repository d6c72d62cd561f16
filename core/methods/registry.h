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

// The input weighting K of a low-rank fit: B A = U_r U_r^T M with U the leading eigenvectors of
// M K M^T, M the weight error (compensation) or the weight itself (LoRD); docs/design.md §2.
enum class InputWeighting {
    None,            // fits no factors (the "none" compensation)
    Identity,        // K = I: the truncated SVD, blind to the inputs
    ActivationScale, // K = diag(mean|x|^(2 alpha)): activation-scaled SVD
    Gram,            // K = C: the exact minimiser of the output error at every rank
};

// The stored error-vs-rank curve that predicts a method's error at every rank (rank planning).
enum class ErrorCurve { None, Svd, Eora };

// What a method needs and does. The jobs, the planner and the views read these instead of
// comparing ids, so a method is wired by its registry entry and its implementation alone.
struct MethodTraits {
    bool readsStatistics = false; // compression: W_c depends on the layer's calibration inputs
    bool quantizes = false;       // compression: W_c lies on a quantization grid (QuantGrid)
    InputWeighting weighting = InputWeighting::None; // compensation, low-rank: the fit's K
    ErrorCurve curve = ErrorCurve::None; // compensation, low-rank: the curve predicting its error
    bool distills = false; // low-rank: trains its factors block by block on its own outputs
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
    MethodTraits traits;

    const ParamSpec* param(std::string_view key) const;
    // Compensation and low-rank methods with a weighting fit factors; "none" does not.
    bool fitsFactors() const { return traits.weighting != InputWeighting::None; }
    // A quantizer whose bits and group size are parameters: what a bits x group sweep varies.
    bool sweepsBitsAndGroups() const { return traits.quantizes && param("bits") && param("group"); }
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
// "lord-weight, lord-data, lillama": the ids of one kind (or those passing `accept`), for messages.
std::string methodIds(MethodKind kind, bool (*accept)(const MethodSpec&) = nullptr);

// The two references the run panel offers beside a chosen compensation: the one that fits
// nothing and the input-blind SVD.
const MethodSpec& uncompensated();
const MethodSpec& plainSvdCompensation();

} // namespace rs
