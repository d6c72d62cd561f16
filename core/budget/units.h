#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

// How the compressed weights are stored, for sizes in bits (docs/design.md §2 "Budgets and sizes").
struct WeightFormat {
    int bits = 16;      // bits per weight; 16: not quantized (fp16)
    int64_t group = -1; // input columns per scale/zero group; -1: one group per output row
    bool quantized() const { return bits < 16; }
};

// Budget units and the exact conversions between them, for one model and one set of compressed
// layers:
//   extra parameters  p  (adapter parameters, sum_l r_l (d_out + d_in));
//   percent of model  100 p / P  (P: all parameters of the model);
//   bits per weight   (sum_l [b d_out d_in + g_l d_out (16 + b)] + 16 p) / sum_l d_out d_in,
//                     g_l = ceil(d_in / group) groups per row (1 for group -1), fp16 adapters;
//                     the group overhead counts only when quantized.
// Parameter counts are integers; the inverse conversions give the largest count whose percent
// or bits per weight does not exceed the given one, so p -> unit -> p is the identity.
class SizeModel {
public:
    struct Shape {
        int64_t outFeatures = 0;
        int64_t inFeatures = 0;
    };
    // Fails for an empty layer list, a non-positive model size or a bad format.
    SizeModel(int64_t modelParameters, std::vector<Shape> layers, WeightFormat format);

    int64_t modelParameters() const { return m_modelParameters; }
    int64_t layerWeights() const { return m_weights; } // sum_l d_out d_in
    int64_t baseBits() const { return m_baseBits; }    // the compressed layers without adapters
    const WeightFormat& format() const { return m_format; }

    double percentOfModel(int64_t parameters) const;
    double bitsPerWeight(int64_t parameters) const;
    // Fail for a negative or non-finite value, or bits per weight below baseBitsPerWeight().
    int64_t parametersForPercent(double percent) const;
    int64_t parametersForBitsPerWeight(double bpw) const;
    double baseBitsPerWeight() const { return bitsPerWeight(0); }

private:
    int64_t m_modelParameters = 0;
    int64_t m_weights = 0;
    int64_t m_baseBits = 0;
    WeightFormat m_format;
};

// A budget as the user writes it: "12000" (extra parameters), "4.5%" (of the model's
// parameters), "3.25bpw" (average bits per weight) or "r8" (as many parameters as uniform rank 8).
struct BudgetSpec {
    enum class Unit { Parameters, Percent, BitsPerWeight, UniformRank };
    Unit unit = Unit::Parameters;
    double value = 0;
    std::string text() const; // back to the written form
};
BudgetSpec parseBudget(const std::string& text);
std::vector<BudgetSpec> parseBudgetList(const std::string& commaSeparated);

} // namespace rs
