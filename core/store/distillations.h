#pragma once

#include <cstdint>
#include <vector>

namespace rs {

class ExperimentStore;

// One decoder block's Lillama distillation in one variant of an experiment (schema version 4).
struct DistillationRecord {
    int variant = 0;
    int64_t block = 0;
    std::vector<double> trainLoss;  // per optimiser step, on that step's batch
    std::vector<int64_t> evalSteps; // steps of the checked losses (0: the SVD initialisation)
    std::vector<double> evalLoss;   // the checked losses; the lowest chose the kept weights
    int64_t bestStep = 0;
    double seconds = 0.0;
};

// Adds (or replaces) one block's record; the variant must exist. One transaction.
void addDistillation(ExperimentStore& store, int64_t experiment, const DistillationRecord& record);
// Every record of the experiment, by variant then block.
std::vector<DistillationRecord> distillations(ExperimentStore& store, int64_t experiment);

} // namespace rs
