#pragma once

#include "pipeline/rank_planning.h"
#include "util/progress.h"

#include <vector>

namespace rs {

class ExperimentStore;
class ModelSession;

// Measured layer sensitivity of a stored experiment's compression: for every layer, the
// perplexity increase over the original model when only that layer is compressed (no
// compensation), on the experiment's evaluation text (at most maxWindows windows; 0: all).
// Costs one perplexity evaluation per layer, so results are cached in the store under a key of
// the model's and texts' content hashes and the compression, calibration and evaluation
// settings; a layer measured once is never measured again (also after a cancellation).
// Fails when the experiment has no evaluation text. Stage "sensitivity".
std::vector<double> layerSensitivities(ModelSession& session, ExperimentStore& store,
                                       const StoredCurves& curves, int64_t maxWindows,
                                       const JobContext& job = {});

} // namespace rs
