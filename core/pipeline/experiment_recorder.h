#pragma once

#include "pipeline/compress_job.h"
#include "pipeline/stats_source.h"
#include "store/records.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace rs {

class ArtefactCache;
class ExperimentStore;
class ModelSession;

struct RecordOptions {
    std::string name;
    std::string notes;
    bool reuseStatistics = true; // false: calibrate again even when saved statistics exist
    bool saveStatistics = true;  // false: do not write statistics to the cache
    // How long to wait for another run writing the same statistics (same model, text and
    // settings) before calibrating without saving; its statistics are reused when it finishes.
    std::chrono::seconds statisticsWait{2 * 60 * 60};
};

struct RecordedCompression {
    CompressResult result;
    int64_t experimentId = 0;
    bool calibrationReused = false; // the calibration forward passes were skipped
    bool heldoutReused = false;
    std::string statisticsNote; // why statistics were not saved, when they were not
};

// The store's rows of a run's variants and layers (the GUI's views read these, also for a run
// that is shown before it is read back from the store).
VariantRecord toVariantRecord(const Variant& variant, int index);
LayerRecord toLayerRecord(const LayerReport& report);

// The calibration statistics saved in the cache under `key`, read one block at a time onto
// `device`. Fails naming the file when one is missing or lacks a site asked for.
std::unique_ptr<LayerStatsSource> savedStatistics(const ArtefactCache& cache, std::string key,
                                                  at::Device device);

// Runs runCompression() and records it in the store as it goes: the model and texts (with
// content hashes), the experiment as Running, each decoder layer's results as soon as it is done
// (one transaction per layer), each perplexity, and finally Done, Failed or Cancelled with the
// stage timings. A failure or cancellation is recorded, then rethrown.
//
// Statistics of the original model's activations (parallel calibration, held-out text) are
// saved in the artefact cache under a key of the model's and text's content hashes and the
// calibration settings; a later run with the same key reads them instead of calibrating.
// Sequential calibration depends on the methods and is never reused.
RecordedCompression runRecordedCompression(ModelSession& session, const CompressRequest& request,
                                           ExperimentStore& store, ArtefactCache& cache,
                                           const RecordOptions& options = {},
                                           const JobContext& job = {});

} // namespace rs
