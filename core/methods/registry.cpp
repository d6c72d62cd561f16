#include "methods/registry.h"

#include "util/argument_error.h"
#include "util/error.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rs {

namespace {

ParamSpec intChoice(std::string key, std::string label, std::string def,
                    std::vector<std::string> choices, std::string help) {
    return {std::move(key),
            std::move(label),
            ParamType::Int,
            std::move(def),
            std::move(choices),
            0.0,
            0.0,
            std::move(help)};
}

ParamSpec integer(std::string key, std::string label, std::string def, double lo, double hi,
                  std::string help) {
    return {std::move(key), std::move(label), ParamType::Int, std::move(def), {}, lo, hi,
            std::move(help)};
}

ParamSpec real(std::string key, std::string label, std::string def, double lo, double hi,
               std::string help) {
    return {std::move(key), std::move(label), ParamType::Float, std::move(def), {}, lo, hi,
            std::move(help)};
}

ParamSpec boolean(std::string key, std::string label, std::string def, std::string help) {
    return {std::move(key), std::move(label), ParamType::Bool, std::move(def), {}, 0.0, 0.0,
            std::move(help)};
}

ParamSpec choice(std::string key, std::string label, std::string def,
                 std::vector<std::string> choices, std::string help) {
    return {std::move(key),
            std::move(label),
            ParamType::Choice,
            std::move(def),
            std::move(choices),
            0.0,
            0.0,
            std::move(help)};
}

// Parameters shared by several methods.
ParamSpec bitsParam() {
    return intChoice("bits", "Bits", "4", {"2", "3", "4", "8"}, "bits per weight");
}
ParamSpec groupParam() {
    return intChoice("group", "Group size", "128", {"-1", "32", "64", "128"},
                     "input columns sharing a scale and zero point (-1: one per output row)");
}
ParamSpec symParam() {
    return boolean("sym", "Symmetric", "false", "symmetric grid (zero point 2^(b-1))");
}
std::vector<ParamSpec> pruningParams() {
    return {real("sparsity", "Sparsity", "0.5", 0.0, 0.99,
                 "fraction of weights removed per output row (unstructured; ignored with N:M)"),
            choice("nm", "N:M pattern", "none", {"none", "2:4", "4:8"},
                   "keep N of every M consecutive inputs"),
            intChoice("bits", "Then quantize (bits)", "0", {"0", "2", "3", "4", "8"},
                      "RTN-quantize the surviving weights afterwards (0: no)"),
            groupParam(), symParam()};
}
ParamSpec factorBitsParam() {
    return intChoice("factor_bits", "Factor bits", "0", {"0", "4", "8"},
                     "RTN-quantize A and B per row after fitting (0: keep float32)");
}

// How LoRD and Lillama spread a parameter reduction over the layers (factorize/allocation.h).
// LoRD may also plan ranks on its error curves (optimal); Lillama trains before any curve exists.
std::vector<ParamSpec> allocationParams(bool planned) {
    std::vector<std::string> strategies{"uniform", "bottom", "top"};
    if (planned)
        strategies.push_back("optimal");
    return {choice("allocation", "Rank allocation", "uniform", strategies,
                   "uniform: every layer at the same fraction of its break-even rank; bottom/top: "
                   "whole blocks factored from the first/last one until the reduction is met; "
                   "optimal (LoRD): the budget planner on the layers' error curves"),
            real("layer_fraction", "Layer fraction", "0.5", 0.05, 0.95,
                 "bottom/top: factor sizes as a fraction of each factored layer's dense size")};
}

std::vector<ParamSpec> lordParams() {
    std::vector<ParamSpec> params = allocationParams(true);
    params.push_back(factorBitsParam());
    return params;
}

std::vector<MethodSpec> buildRegistry() {
    return {
        {"none",
         "No compression",
         "Keep the weights as they are (baseline, or for low-rank only).",
         MethodKind::Compression,
         {},
         {}},
        {"rtn",
         "RTN",
         "Round-to-nearest quantization per group of input columns.",
         MethodKind::Compression,
         {bitsParam(), groupParam(), symParam()},
         {.quantizes = true}},
        {"gptq",
         "GPTQ",
         "Quantize column by column, correcting the remaining columns with the inverse Hessian "
         "of the calibration inputs.",
         MethodKind::Compression,
         {bitsParam(), groupParam(), symParam(),
          real("damp", "Damping", "0.01", 0.0, 1.0, "added to the Hessian diagonal, x mean(diag)"),
          boolean("act_order", "Act-order", "false",
                  "process columns by descending Hessian diagonal"),
          intChoice("block", "Block size", "128", {"32", "64", "128", "256"},
                    "columns per lazy-update block")},
         {.readsStatistics = true, .quantizes = true}},
        {"q8_0",
         "llama.cpp Q8_0",
         "llama.cpp's 8-bit blocks: 32 inputs share a float16 scale max|x| / 127, rounded as "
         "ggml's reference quantizer; rows that do not split into blocks of 32 stay float16, as "
         "llama-quantize keeps them.",
         MethodKind::Compression,
         {},
         {.quantizes = true}},
        {"q4_0",
         "llama.cpp Q4_0",
         "llama.cpp's 4-bit blocks: 32 inputs share a float16 scale (the largest value / -8), "
         "rounded as ggml's reference quantizer; rows that do not split into blocks of 32 stay "
         "float16.",
         MethodKind::Compression,
         {},
         {.quantizes = true}},
        {"magnitude",
         "Magnitude pruning",
         "Remove the weights of smallest magnitude per row.",
         MethodKind::Compression,
         pruningParams(),
         {}},
        {"wanda",
         "Wanda pruning",
         "Remove the weights with the smallest |W_ij| * ||x_j|| per row (activation-aware).",
         MethodKind::Compression,
         pruningParams(),
         {.readsStatistics = true}},

        {"none",
         "No compensation",
         "Leave the compression error uncompensated.",
         MethodKind::Compensation,
         {},
         {}},
        {"svd",
         "SVD",
         "Truncated SVD of the weight error; ignores the inputs.",
         MethodKind::Compensation,
         {factorBitsParam()},
         {.weighting = InputWeighting::Identity, .curve = ErrorCurve::Svd}},
        {"eora",
         "EoRA",
         "SVD of the error projected onto the eigenspace of the layer's input activations: the "
         "exact minimiser of the output error for every rank.",
         MethodKind::Compensation,
         {factorBitsParam()},
         {.weighting = InputWeighting::Gram, .curve = ErrorCurve::Eora}},
        {"asvd",
         "Activation-scaled SVD",
         "SVD of the error with input columns scaled by mean |x|^alpha (ASVD-style).",
         MethodKind::Compensation,
         {real("alpha", "Alpha", "0.5", 0.0, 2.0, "exponent of the activation scale"),
          factorBitsParam()},
         {.weighting = InputWeighting::ActivationScale}},

        {"lord-weight",
         "LoRD (weight SVD)",
         "Replace each linear by the truncated SVD of its weight: two thin layers of rank r.",
         MethodKind::LowRank,
         lordParams(),
         {.weighting = InputWeighting::Identity, .curve = ErrorCurve::Svd}},
        {"lord-data",
         "LoRD (data-aware)",
         "Replace each linear by the rank-r factors that minimise its output error on the "
         "calibration activations (the EoRA optimum applied to the weight itself).",
         MethodKind::LowRank,
         lordParams(),
         {.weighting = InputWeighting::Gram, .curve = ErrorCurve::Eora}},
        {"lillama",
         "Lillama",
         "Start from the weight SVD, then train each decoder layer's factors to reproduce the "
         "original layer's output hidden states (local feature distillation).",
         MethodKind::LowRank,
         [] {
             auto params = allocationParams(false);
             params.push_back(
                 integer("steps", "Steps", "100", 0, 1000000, "AdamW steps per decoder layer"));
             params.push_back(real("lr", "Learning rate", "0.002", 1e-7, 1.0, "AdamW step size"));
             params.push_back(
                 integer("batch", "Batch", "4", 1, 4096, "calibration windows per step"));
             params.push_back(real("weight_decay", "Weight decay", "0", 0.0, 1.0,
                                   "AdamW's decoupled weight decay"));
             params.push_back(integer("seed", "Seed", "0", 0, 2147483647,
                                      "order of the windows (runs are reproducible)"));
             return params;
         }(),
         // Distillation starts from the weight SVD; no curve predicts where training ends.
         {.weighting = InputWeighting::Identity, .distills = true}},
    };
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return s;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

// Validates `value` for `param` and returns its canonical text.
std::string canonicalValue(const MethodSpec& method, const ParamSpec& param,
                           std::string_view value) {
    const std::string subject = method.id + ":" + param.key;
    const std::string text(trimmed(value));
    switch (param.type) {
    case ParamType::Bool:
        if (text == "true" || text == "1" || text == "yes" || text == "on")
            return "true";
        if (text == "false" || text == "0" || text == "no" || text == "off")
            return "false";
        failArgument(subject, "expects true or false, got '" + text + "'");
    case ParamType::Choice:
        if (std::find(param.choices.begin(), param.choices.end(), text) == param.choices.end())
            failArgument(subject, "'" + text + "' is not one of " + joined(param.choices));
        return text;
    case ParamType::Int: {
        long long number = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (ec != std::errc() || end != text.data() + text.size())
            failArgument(subject, "expects an integer, got '" + text + "'");
        const std::string canonical = std::to_string(number);
        if (!param.choices.empty()) {
            if (std::find(param.choices.begin(), param.choices.end(), canonical) ==
                param.choices.end())
                failArgument(subject, canonical + " is not one of " + joined(param.choices));
        } else if (number < param.minValue || number > param.maxValue) {
            failArgument(subject, canonical + " is outside " +
                                      std::to_string(int64_t(param.minValue)) + ".." +
                                      std::to_string(int64_t(param.maxValue)));
        }
        return canonical;
    }
    case ParamType::Float: {
        double number = 0.0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
        if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(number))
            failArgument(subject, "expects a number, got '" + text + "'");
        if (number < param.minValue || number > param.maxValue) {
            char range[96];
            std::snprintf(range, sizeof range, " is outside %g..%g", param.minValue,
                          param.maxValue);
            failArgument(subject, text + range);
        }
        char canonical[64];
        std::snprintf(canonical, sizeof canonical, "%.17g", number);
        // Prefer the shortest text that reads back to the same number.
        for (int digits = 1; digits <= 17; ++digits) {
            char shortText[64];
            std::snprintf(shortText, sizeof shortText, "%.*g", digits, number);
            if (std::strtod(shortText, nullptr) == number)
                return shortText;
        }
        return canonical;
    }
    }
    return text;
}

} // namespace

const ParamSpec* MethodSpec::param(std::string_view key) const {
    for (const ParamSpec& p : params)
        if (p.key == key)
            return &p;
    return nullptr;
}

const std::vector<MethodSpec>& methodRegistry() {
    static const std::vector<MethodSpec> registry = buildRegistry();
    return registry;
}

std::vector<const MethodSpec*> methodsOfKind(MethodKind kind) {
    std::vector<const MethodSpec*> out;
    for (const MethodSpec& spec : methodRegistry())
        if (spec.kind == kind)
            out.push_back(&spec);
    return out;
}

const MethodSpec* findMethod(std::string_view id, MethodKind kind) {
    for (const MethodSpec& spec : methodRegistry())
        if (spec.id == id && spec.kind == kind)
            return &spec;
    return nullptr;
}

const char* methodKindName(MethodKind kind) {
    switch (kind) {
    case MethodKind::Compression:
        return "compression";
    case MethodKind::Compensation:
        return "compensation";
    case MethodKind::LowRank:
        return "low-rank";
    }
    return "?";
}

std::string methodIds(MethodKind kind, bool (*accept)(const MethodSpec&)) {
    std::vector<std::string> ids;
    for (const MethodSpec* m : methodsOfKind(kind))
        if (!accept || accept(*m))
            ids.push_back(m->id);
    return joined(ids);
}

namespace {

const MethodSpec& onlyCompensation(bool (*match)(const MethodSpec&), const char* what) {
    const MethodSpec* found = nullptr;
    for (const MethodSpec* m : methodsOfKind(MethodKind::Compensation))
        if (match(*m)) {
            if (found)
                fail("method registry", std::string("two compensations are ") + what);
            found = m;
        }
    if (!found)
        fail("method registry", std::string("no compensation is ") + what);
    return *found;
}

} // namespace

const MethodSpec& uncompensated() {
    static const MethodSpec& spec =
        onlyCompensation([](const MethodSpec& m) { return !m.fitsFactors(); }, "without factors");
    return spec;
}

const MethodSpec& plainSvdCompensation() {
    static const MethodSpec& spec = onlyCompensation(
        [](const MethodSpec& m) { return m.traits.weighting == InputWeighting::Identity; },
        "the input-blind SVD");
    return spec;
}

MethodConfig MethodConfig::parse(std::string_view text, MethodKind kind) {
    text = trimmed(text);
    const size_t colon = text.find(':');
    const std::string id(trimmed(text.substr(0, colon)));
    const MethodSpec* spec = findMethod(id, kind);
    if (!spec) {
        failArgument(std::string(methodKindName(kind)) + " method",
                     "unknown method '" + id + "' (available: " + methodIds(kind) + ")");
    }
    MethodConfig config;
    config.m_id = spec->id;
    config.m_kind = kind;
    for (const ParamSpec& p : spec->params)
        config.m_values[p.key] = p.defaultValue;
    if (colon == std::string_view::npos)
        return config;
    std::string_view rest = text.substr(colon + 1);
    while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (trimmed(item).empty())
            continue;
        const size_t eq = item.find('=');
        if (eq == std::string_view::npos)
            failArgument(spec->id, "parameter '" + std::string(trimmed(item)) +
                                       "' needs a value (key=value)");
        config.set(trimmed(item.substr(0, eq)), item.substr(eq + 1));
    }
    return config;
}

MethodConfig MethodConfig::defaults(std::string_view id, MethodKind kind) {
    return parse(id, kind);
}

const MethodSpec& MethodConfig::spec() const {
    if (const MethodSpec* spec = findMethod(m_id, m_kind))
        return *spec;
    fail("method", "configuration without a registered method");
}

void MethodConfig::set(std::string_view key, std::string_view value) {
    const MethodSpec& method = spec();
    const ParamSpec* param = method.param(key);
    if (!param) {
        std::vector<std::string> keys;
        for (const ParamSpec& p : method.params)
            keys.push_back(p.key);
        failArgument(method.id, "unknown parameter '" + std::string(key) + "' (" +
                                    (keys.empty() ? std::string("it takes none")
                                                  : "parameters: " + joined(keys)) +
                                    ")");
    }
    m_values[param->key] = canonicalValue(method, *param, value);
}

const std::string& MethodConfig::text(std::string_view key) const {
    const auto it = m_values.find(key);
    if (it == m_values.end())
        fail(m_id, "has no parameter '" + std::string(key) + "'");
    return it->second;
}

int64_t MethodConfig::integer(std::string_view key) const {
    return std::stoll(text(key));
}
double MethodConfig::real(std::string_view key) const {
    return std::stod(text(key));
}
bool MethodConfig::flag(std::string_view key) const {
    return text(key) == "true";
}

std::string MethodConfig::serialize() const {
    std::string out = m_id;
    char sep = ':';
    for (const ParamSpec& p : spec().params) {
        out += sep;
        out += p.key + "=" + m_values.at(p.key);
        sep = ',';
    }
    return out;
}

} // namespace rs
