#pragma once

#include "pipeline/compress_job.h"
#include "store/records.h"

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace rs {

// A compression request as JSON: every setting needed to run it again, with methods in the
// registry's own serialisation ("rtn:bits=3,group=32"). Paths are stored as given (absolute
// when the caller made them so).
std::string requestToJson(const CompressRequest& request);

// The inverse; fails "<what>: <problem>" for malformed JSON, unknown methods or bad values.
CompressRequest requestFromJson(const std::string& json, const std::string& what = "request");

// The request a compression experiment ran, read back to reproduce or extend it. A low-rank
// experiment (ExperimentKind::LowRank) holds a LowRankRequest instead: refused naming it.
CompressRequest compressRequestOf(const ExperimentRecord& experiment);

// The rank settings alone, for the experiments table: {"ranks":[4,8]} or
// {"uniform":8,"layers":{"model.layers.0.mlp.down_proj":16}}.
std::string rankPlanJson(const CompressRequest& request);

// A per-layer rank plan as the stored requests of both jobs (compression, low-rank) write it:
// {"uniform":8,"layers":{"model.layers.0.mlp.down_proj":16}}; reading throws nlohmann's exception
// for a malformed one.
nlohmann::json rankPlanToJson(const RankPlan& plan);
RankPlan rankPlanFromJson(const nlohmann::json& json);

} // namespace rs
