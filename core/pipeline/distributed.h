#pragma once

#include "dist/communicator.h"
#include "pipeline/stats_source.h"
#include "util/progress.h"

#include <c10/core/Device.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rs {

class ModelSession;
struct CompressRequest;

// The parts of a distributed job that sit above the communicator: what every rank must agree on
// before any work, and where reusable statistics come from. Every function here is a no-op or
// a plain call in a job that runs in one process.

// Refuses, on every rank, a job whose ranks would not compute the same thing: a different model
// (its config, weight files' sizes and headers), different text contents or different settings
// (`settings`: the request as JSON, without paths, which may differ between machines).
void requireSameInputs(const JobContext& job, const ModelSession& session,
                       const std::vector<std::filesystem::path>& texts,
                       const std::string& settings);

// requireSameInputs for a job's request: its two texts by content, the rest of it (its text
// paths cleared) as `toJson` writes it.
template <typename Request, typename ToJson>
void requireSameRequest(const JobContext& job, const ModelSession& session, Request request,
                        ToJson toJson) {
    if (!distributed(job))
        return;
    const std::vector<std::filesystem::path> texts{request.inputs.calibText,
                                                   request.inputs.evalText};
    request.inputs.calibText.clear();
    request.inputs.evalText.clear();
    requireSameInputs(job, session, texts, toJson(request));
}

// A source of reusable statistics that every rank of the job agrees on. Rank 0 asks `provider`
// (the store's cache); when it answers with saved statistics, rank 0 reads them and sends each
// layer's to the others; when it calibrates, every rank calibrates its share of the windows
// through `request.calibrate`. Received statistics are put on `device`. Without a group: the
// provider's source, or request.calibrate().
std::unique_ptr<LayerStatsSource> sharedStatsSource(const JobContext& job,
                                                    const StatsProvider& provider,
                                                    StatsRequest request, at::Device device);

// Commands that rank 0 drives from its store (plan with measured sensitivities or --apply,
// tradeoff) spread each compression they start over every rank: rank 0 runs the command with
// job.leadsFollowers set, and announces each compression as it starts it (runCompression does);
// the other ranks follow, running every announced compression with it, on the model and texts
// at the paths rank 0 names (the same on every machine: a shared file system), which the
// compression's start-up check then compares by content.
void announceCompression(const JobContext& job, const ModelSession& session,
                         const CompressRequest& request);
// Rank 0, when its command is done: the followers return.
void endAnnouncements(const JobContext& job);
// The other ranks: runs the announced compressions until rank 0 ends. `open` opens a model by
// its path (the follower's own options: device, dtype, memory).
using ModelOpener = std::function<std::shared_ptr<ModelSession>(const std::filesystem::path&)>;
void followAnnouncements(const JobContext& job, const ModelOpener& open);

} // namespace rs
