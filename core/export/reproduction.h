#pragma once

#include "export/export_job.h"
#include "pipeline/compress_job.h"
#include "store/records.h"
#include "util/progress.h"

#include <cstddef>
#include <string>

// What an export must prove about the experiment it reproduces: that every input the run read is
// still what it was (weights, config and tokenizer files, texts), and that the reproduction
// scores what the run recorded.
namespace rs {

class ExperimentStore;

// What an export reproduces: a finished compression experiment, its model and one variant.
struct ExportSource {
    std::string what; // "experiment 7", for messages
    ExperimentRecord experiment;
    ModelRecord model;
    size_t variant = 0;
};

double relativeDifference(double value, double reference);

// Hashes the real bytes of the weights (no remembered hash stands in for them), compares the
// model's config and tokenizer files with those the run recorded, and the calibration and
// evaluation texts with their recorded hashes. Throws rs::Error naming the first input that
// changed and how; warns (stage "warning") when the run predates recorded model files.
void requireUnchangedInputs(ExperimentStore& store, const ExportSource& source,
                            const CompressRequest& compress, const JobContext& job);

// Fills result.storedPerplexity and throws when the reproduced perplexity is off by more than
// kReproducedPerplexityTolerance; the inputs being verified, the message names the RankScope
// versions involved.
void checkReproduced(const ExperimentStore& store, const ExportSource& source,
                     ExportResult& result);

} // namespace rs
