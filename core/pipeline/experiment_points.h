#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// One compensated model of a stored experiment placed in the size x error plane: its size in
// average bits per weight over the compressed layers including the adapter (docs/design.md §2), its
// predicted error (the mean relative output error of its layers on calibration inputs, the
// quantity the curves predict) and its measured perplexity when it was evaluated.
struct ExperimentPoint {
    int64_t experiment = 0;
    int variant = 0;
    std::string label;       // "eora@8"
    std::string compression; // the registry's serialisation
    double bitsPerWeight = 0.0;
    double predictedError = 0.0;
    std::optional<double> perplexity;
    bool front = false; // on the Pareto front of (size, the metric asked for)
};

struct ExperimentPoints {
    std::vector<ExperimentPoint> points;
    int64_t skipped = 0; // variants without a size (no layers, unknown format) or results
    // The uncompressed model's perplexity, from the newest experiment that measured it.
    std::optional<double> originalPerplexity;
};

// Every variant of every finished experiment of the model at `modelPath` (all models when
// empty). `byPerplexity` takes the Pareto front over measured perplexity (points without one are
// never on it), else over the predicted error.
ExperimentPoints experimentPoints(const ExperimentStore& store, const std::string& modelPath,
                                  bool byPerplexity);

} // namespace rs
