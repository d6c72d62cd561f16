#pragma once

#include "compensate/compensation.h"
#include "util/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

class ArtefactCache;
class ExperimentStore;
class ModelSession;

// Analysis on demand: a run with --no-analysis skips the spectra and error curves, which cost
// as much as the compensation itself at scale; a user who then looks at a few layers gets
// theirs computed here, from the run's saved calibration statistics, and stored with the run.
//
// Analyses the layers of compression experiment `experimentId` whose names match the regular
// expression `layerPattern` (searched, like --include) and that have no analysis yet, in block
// order; stores each as soon as it is done and returns their names. The layer's compressed
// weight is recomputed with the experiment's method from the same statistics, so the result
// equals what the run itself would have stored. Fails, naming the experiment, when it is not a
// finished compression run of the session's model with parallel calibration, when its
// statistics are no longer in the cache, or when no layer matches. Reports progress (stage
// "analyse", one unit per layer) and honours cancellation.
std::vector<std::string> analyzeRecordedLayers(ModelSession& session, ExperimentStore& store,
                                               const ArtefactCache& cache, int64_t experimentId,
                                               const std::string& layerPattern,
                                               const JobContext& job = {});

} // namespace rs
