#pragma once

#include "pipeline/stats_source.h"
#include "util/progress.h"

#include <c10/core/Device.h>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rs {

class ModelSession;

// The parts of a distributed job that sit above the communicator: what every rank must agree on
// before any work, and where reusable statistics come from. Every function here is a no-op or
// a plain call in a job that runs in one process.

// Refuses, on every rank, a job whose ranks would not compute the same thing: a different model
// (its config, weight files' sizes and headers), different text contents or different settings
// (`settings`: the request as JSON, without paths, which may differ between machines).
void requireSameInputs(const JobContext& job, const ModelSession& session,
                       const std::vector<std::filesystem::path>& texts,
                       const std::string& settings);

// A source of reusable statistics that every rank of the job agrees on. Rank 0 asks `provider`
// (the store's cache); when it answers with saved statistics, rank 0 reads them and sends each
// layer's to the others; when it calibrates, every rank calibrates its share of the windows
// through `request.calibrate`. Received statistics are put on `device`. Without a group: the
// provider's source, or request.calibrate().
std::unique_ptr<LayerStatsSource> sharedStatsSource(const JobContext& job,
                                                    const StatsProvider& provider,
                                                    StatsRequest request, at::Device device);

} // namespace rs
