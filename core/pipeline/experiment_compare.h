#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// Two stored experiments side by side: the settings that define them and the metrics of each
// variant. The CLI's `experiments compare` and the GUI's compare view both show this.
struct SettingRow {
    std::string key; // "compression"
    std::string a;
    std::string b;
    bool differs() const { return a != b; }
};

struct MetricRow {
    std::string label; // "original", "eora@8"
    std::optional<double> perplexityA;
    std::optional<double> perplexityB;
    std::optional<double> meanErrorA; // mean relative output error over the layers
    std::optional<double> meanErrorB;
};

struct ExperimentComparison {
    int64_t a = 0;
    int64_t b = 0;
    std::vector<SettingRow> settings; // including stage times ("calibrate time")
    std::vector<MetricRow> metrics;   // the original model, A's variants, then those only B has
};

// Fails "<database>: no experiment N" when either does not exist.
ExperimentComparison compareExperiments(const ExperimentStore& store, int64_t a, int64_t b);

// Perplexity per variant label ("original" for the uncompressed model).
std::map<std::string, double> experimentPerplexities(const ExperimentStore& store, int64_t id);
// Mean relative output error per variant label over the layers (calibration inputs).
std::map<std::string, double> experimentMeanErrors(const ExperimentStore& store, int64_t id);

} // namespace rs
