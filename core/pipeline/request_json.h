#pragma once

#include "pipeline/compress_job.h"

#include <string>

namespace rs {

// A compression request as JSON: every setting needed to run it again, with methods in the
// registry's own serialisation ("rtn:bits=3,group=32"). Paths are stored as given (absolute
// when the caller made them so).
std::string requestToJson(const CompressRequest& request);

// The inverse; fails "<what>: <problem>" for malformed JSON, unknown methods or bad values.
CompressRequest requestFromJson(const std::string& json, const std::string& what = "request");

// The rank settings alone, for the experiments table: {"ranks":[4,8]} or
// {"uniform":8,"layers":{"model.layers.0.mlp.down_proj":16}}.
std::string rankPlanJson(const CompressRequest& request);

} // namespace rs
