#pragma once

#include "pipeline/compress_job.h"

#include <ATen/core/ivalue.h>
#include <optional>
#include <utility>
#include <vector>

namespace rs {

// What compressing one linear produced, as one rank hands it to the others in a job spread over
// several processes (the ranks share a block's linears and then exchange their outcomes).
struct LinearOutcome {
    LayerReport report;
    at::Tensor compressed;                // W_c where the job keeps it, else undefined
    std::optional<CompressedWeight> kept; // with its grid, where an export needs it
    std::vector<std::pair<size_t, LowRankFactors>> factors; // per variant index
};

// Which rank compresses each of a block's linears: the costliest first, each to the least loaded
// of `ranks` ranks (all to rank 0 for one). The cost counts the compression and the
// decomposition of dW (d_out d_in) and the eigenvalues of C (d_in^2). Deterministic, so every
// rank computes the same assignment.
std::vector<int> linearOwners(const std::vector<const SelectedLinear*>& linears, int ranks);

// To and from values the communicator can broadcast (tensors move to the CPU).
c10::IValue packOutcome(const LinearOutcome& outcome);
LinearOutcome unpackOutcome(const c10::IValue& value);

// What fitting one linear of a LoRD or Lillama job produced, as its owner hands it to the others.
struct FactoredOutcome {
    double outputEnergy = 0.0;
    std::vector<double> errorAfter; // per variant
    std::optional<LayerAnalysis> analysis;
    std::vector<std::pair<size_t, LowRankFactors>> factors; // per variant index
    std::vector<double> curve; // the basis's error curve (optimal allocation's first pass)
};

c10::IValue packFactored(const FactoredOutcome& outcome);
FactoredOutcome unpackFactored(const c10::IValue& value);

} // namespace rs
