#include "budget/units.h"

#include "util/argument_error.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace rs {

namespace {

// The integer that a double computed from integers stands for, when it is one up to rounding;
// otherwise the floor. Keeps p -> bpw -> p exact.
int64_t snapFloor(long double x) {
    const long double nearest = std::round(x);
    // x carries a few double roundings of its integer operands; nothing more is forgiven.
    if (std::fabs(x - nearest) <= 1e-9L + 16 * 2.2e-16L * std::fabs(x))
        return int64_t(nearest);
    return int64_t(std::floor(x));
}

int64_t floorDiv(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

std::string number(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.10g", v);
    return buffer;
}

} // namespace

SizeModel::SizeModel(int64_t modelParameters, std::vector<Shape> layers, WeightFormat format)
    : m_modelParameters(modelParameters)
    , m_format(format) {
    if (modelParameters < 1)
        fail("model size", "must be positive (got " + std::to_string(modelParameters) + ")");
    if (layers.empty())
        fail("model size", "no compressed layers");
    if (format.bits < 1 || format.bits > 16)
        fail("weight format", "bits must be in 1..16 (got " + std::to_string(format.bits) + ")");
    if (format.group == 0 || format.group < -1)
        fail("weight format",
             "group must be positive or -1 (got " + std::to_string(format.group) + ")");
    for (const Shape& s : layers) {
        const int64_t weights = s.outFeatures * s.inFeatures;
        m_weights += weights;
        m_baseBits += format.bits * weights;
        if (format.quantized()) {
            const int64_t groups =
                format.group < 0 ? 1 : (s.inFeatures + format.group - 1) / format.group;
            m_baseBits += groups * s.outFeatures * (16 + format.bits);
        }
    }
}

double SizeModel::percentOfModel(int64_t parameters) const {
    return 100.0 * double(parameters) / double(m_modelParameters);
}

double SizeModel::bitsPerWeight(int64_t parameters) const {
    return double(m_baseBits + 16 * parameters) / double(m_weights);
}

int64_t SizeModel::parametersForPercent(double percent) const {
    if (!std::isfinite(percent) || percent < 0)
        failArgument("budget",
                     "a percentage must be a non-negative number (got " + number(percent) + ")");
    return snapFloor((long double)percent * m_modelParameters / 100.0L);
}

int64_t SizeModel::parametersForBitsPerWeight(double bpw) const {
    if (!std::isfinite(bpw) || bpw < 0)
        failArgument("budget",
                     "bits per weight must be a non-negative number (got " + number(bpw) + ")");
    const int64_t bits = snapFloor((long double)bpw * m_weights);
    if (bits < m_baseBits)
        failArgument("budget", number(bpw) + " bits per weight is below the " +
                                   number(baseBitsPerWeight()) +
                                   " bits per weight the compressed layers take without adapters");
    return floorDiv(bits - m_baseBits, 16);
}

std::string BudgetSpec::text() const {
    switch (unit) {
    case Unit::Parameters:
        return number(value);
    case Unit::Percent:
        return number(value) + "%";
    case Unit::BitsPerWeight:
        return number(value) + "bpw";
    case Unit::UniformRank:
        return "r" + number(value);
    }
    return {};
}

BudgetSpec parseBudget(const std::string& text) {
    BudgetSpec spec;
    std::string digits = text;
    if (!digits.empty() && digits.front() == 'r') {
        spec.unit = BudgetSpec::Unit::UniformRank;
        digits.erase(0, 1);
    } else if (!digits.empty() && digits.back() == '%') {
        spec.unit = BudgetSpec::Unit::Percent;
        digits.pop_back();
    } else if (digits.size() > 3 && digits.compare(digits.size() - 3, 3, "bpw") == 0) {
        spec.unit = BudgetSpec::Unit::BitsPerWeight;
        digits.resize(digits.size() - 3);
    }
    try {
        size_t used = 0;
        spec.value = std::stod(digits, &used);
        if (used != digits.size() || !std::isfinite(spec.value) || spec.value < 0)
            throw std::invalid_argument(text);
    } catch (const std::exception&) {
        failArgument(
            "budget '" + text + "'",
            "expected a non-negative PARAMS, PERCENT%, BITSbpw or rRANK (e.g. 12000, 2.5%, "
            "3.5bpw, r8)");
    }
    if ((spec.unit == BudgetSpec::Unit::Parameters || spec.unit == BudgetSpec::Unit::UniformRank) &&
        spec.value != std::floor(spec.value))
        failArgument("budget '" + text + "'", "parameters and ranks are whole numbers");
    return spec;
}

std::vector<BudgetSpec> parseBudgetList(const std::string& commaSeparated) {
    std::vector<BudgetSpec> out;
    std::stringstream in(commaSeparated);
    std::string piece;
    while (std::getline(in, piece, ','))
        out.push_back(parseBudget(piece));
    if (out.empty())
        failArgument("budgets", "none given");
    return out;
}

} // namespace rs
