#pragma once

#include "pipeline/lowrank_job.h"
#include "store/records.h"

#include <optional>
#include <string>

namespace rs {

class ExperimentStore;

struct RecordedLowRank {
    LowRankResult result;
    int64_t experimentId = 0;
};

// The store's rows of a low-rank run. A factored layer is a compression to W_c = 0 compensated
// by its factors, so the existing columns keep their meaning: errorEnergy = outputEnergy =
// tr(W C W^T), errorAfter the relative output error of B A, curveSvd the weight SVD's error
// curve and curveEora the data-aware optimum; a layer kept dense has rank -1 and error 0.
VariantRecord toVariantRecord(const LowRankVariant& variant, int index, const std::string& method);
LayerRecord toLayerRecord(const LowRankLayerReport& report);

// runLowRank() recorded in the experiment store as it goes: the model and texts with their
// content hashes, the experiment (compression = the method's serialisation, no compensation),
// the variants, every layer, Lillama's loss curves per block (store/distillations.h), every
// perplexity, and Done, Failed or Cancelled at the end.
// `observers` sees the run too (its distilled and factored hooks; e.g. an export).
RecordedLowRank runRecordedLowRank(ModelSession& session, const LowRankRequest& request,
                                   ExperimentStore& store, const std::string& name = {},
                                   const JobContext& job = {}, const LowRankHooks& observers = {});

// The request as JSON (enough to run it again), marked {"kind": "lowrank"} (what the store's
// kind column was back-filled from when it was added).
std::string lowRankRequestJson(const LowRankRequest& request);

// The request back from lowRankRequestJson(): the stored request of an experiment of kind
// ExperimentKind::LowRank. Fails naming `what` for a malformed request.
LowRankRequest lowRankRequestFromJson(const std::string& json, const std::string& what = "request");

// The `rankscope-cli lowrank` command line that runs the request again.
std::string lowRankCommandLine(const LowRankRequest& request, const std::string& modelPath);

} // namespace rs
