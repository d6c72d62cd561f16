#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// Any number of stored experiments side by side: the settings that define them, what they cost
// (stage times, cached statistics) and the metrics of each variant. The CLI's
// `experiments compare` and the GUI's compare dialog both show this.
//
// Sign convention: a change is always "experiment − baseline", so a negative perplexity change
// is an improvement over the baseline. The baseline is the first experiment unless chosen.
struct SettingRow {
    std::string key;                 // "compression"
    std::vector<std::string> values; // one per experiment, in the comparison's order
    bool differs() const;
};

struct MetricRow {
    std::string label;                             // "original", "eora@8"
    std::vector<std::optional<double>> perplexity; // one per experiment
    std::vector<std::optional<double>> meanError;  // mean relative output error over the layers
    // perplexity[experiment] − perplexity[baseline], when both were measured.
    std::optional<double> perplexityChange(size_t experiment, size_t baseline) const;
};

struct ExperimentComparison {
    std::vector<int64_t> ids;         // in the order asked for
    std::vector<SettingRow> settings; // what defines each experiment
    std::vector<SettingRow> costs;    // stage times and whether statistics were reused
    std::vector<MetricRow> metrics; // the original model, then every variant in order of appearance
};

// Fails "<database>: no experiment N" when one does not exist, and on fewer than two or
// repeated ids.
ExperimentComparison compareExperiments(const ExperimentStore& store,
                                        const std::vector<int64_t>& ids);

// Perplexity per variant label ("original" for the uncompressed model).
std::map<std::string, double> experimentPerplexities(const ExperimentStore& store, int64_t id);
// Mean relative output error per variant label over the layers (calibration inputs).
std::map<std::string, double> experimentMeanErrors(const ExperimentStore& store, int64_t id);

} // namespace rs
