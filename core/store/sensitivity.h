#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// One layer's measured sensitivity: the perplexity with only that layer compressed, beside the
// original model's on the same windows.
struct SensitivityRecord {
    std::string layer;
    double perplexity = 0.0;
    double baseline = 0.0;
    int64_t tokens = 0; // predicted tokens of both
};

// Sensitivities saved under `key` (a content key of everything they depend on), any order.
std::vector<SensitivityRecord> loadSensitivities(ExperimentStore& store, const std::string& key);
// Adds or replaces one layer's record (one transaction).
void saveSensitivity(ExperimentStore& store, const std::string& key,
                     const SensitivityRecord& record);

} // namespace rs
