#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Plain rows of the experiment store. They know nothing of LibTorch or of the pipeline: the
// pipeline converts its results into these, the CLI and the GUI read them back.
namespace rs {

enum class ExperimentStatus { Running, Done, Failed, Cancelled, Interrupted };

// "running", "done", "failed", "cancelled", "interrupted".
const char* statusName(ExperimentStatus status);
std::optional<ExperimentStatus> parseStatus(const std::string& name);

// What an experiment ran, so that its stored request is read back by the right job: a
// compression with compensations (CompressRequest) or a low-rank replacement by LoRD or Lillama
// (LowRankRequest).
enum class ExperimentKind { Compress, LowRank };

// "compress", "lowrank": the experiments table's kind column.
const char* experimentKindName(ExperimentKind kind);
std::optional<ExperimentKind> parseExperimentKind(const std::string& name);

struct ModelRecord {
    int64_t id = 0;
    std::string path;         // absolute path of the checkpoint directory or file
    std::string contentHash;  // sha256 (hex) over the weight files, see hashWeights()
    std::string architecture; // "llama", "mistral", ...
    int64_t layers = 0;
    int64_t hidden = 0;
    int64_t intermediate = 0;
    int64_t heads = 0;
    int64_t kvHeads = 0;
    int64_t vocab = 0;
    int64_t parameters = 0;
};

struct DatasetRecord {
    int64_t id = 0;
    std::string path;        // absolute path of the text file
    std::string contentHash; // sha256 (hex) of the file's bytes
    std::string protocol;    // "tinystories", "wikitext"
    int64_t tokens = 0;      // tokens of the whole text under the protocol
};

// One compensated model of an experiment (a compensation method at a rank or a plan).
struct VariantRecord {
    int index = 0;            // 0-based, in the order of the run
    std::string compensation; // MethodConfig::serialize(), e.g. "eora" or "asvd:alpha=0.5"
    int64_t rank = 0;         // uniform rank; -1 when the rank plan decides per layer
    std::string label;        // "eora@8"
    int64_t adapterParameters = 0;
};

struct LayerRecord {
    std::string name; // "model.layers.3.mlp.down_proj"
    int64_t block = 0;
    std::string kind; // "q_proj", ...
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
    double sparsity = 0.0;
    int64_t discardedModes = 0;
    double outputEnergy = 0.0; // tr(W C W^T) on calibration inputs
    double errorEnergy = 0.0;  // tr(dW C dW^T)
    double heldoutOutputEnergy = 0.0;
    double heldoutErrorEnergy = 0.0;
    // Per variant, indexed like VariantRecord::index.
    std::vector<int64_t> ranks;
    std::vector<double> errorAfter;        // relative output error after compensation
    std::vector<double> heldoutErrorAfter; // the same on held-out activations
    // Analysis; empty when the run did not analyse layers. Curves have min(d_out, d_in) + 1
    // entries (absolute, E(0) = errorEnergy); spectra are descending.
    std::vector<double> curveSvd;
    std::vector<double> curveEora;
    std::vector<double> gramEigenvalues;
    std::vector<double> weightSingular;
    std::vector<double> errorSingular;
    std::vector<double> scaledErrorSingular;
};

struct EvaluationRecord {
    int64_t id = 0;
    std::optional<int> variant; // nullopt: the original (uncompressed) model
    std::optional<int64_t> datasetId;
    std::string protocol;
    int64_t seqLen = 0;
    int64_t tokens = 0; // predicted tokens
    double perplexity = 0.0;
    double seconds = 0.0;
};

struct ExperimentRecord {
    int64_t id = 0;
    std::string name;
    std::string notes;
    ExperimentKind kind = ExperimentKind::Compress;
    int64_t modelId = 0;
    std::optional<int64_t> calibDatasetId;
    std::optional<int64_t> evalDatasetId;
    std::string calibMode; // "parallel", "sequential"
    int64_t calibTokens = 0;
    int64_t calibSeqLen = 0;
    std::string compression;                // MethodConfig::serialize()
    std::vector<std::string> compensations; // MethodConfig::serialize() each
    std::string rankPlan;                   // JSON: {"ranks":[4,8]} or {"uniform":8,"layers":{...}}
    std::string request;                    // JSON of the whole request, enough to re-run it
    ExperimentStatus status = ExperimentStatus::Running;
    std::string error; // message of a failed run
    std::vector<std::pair<std::string, double>> stageSeconds;
    std::string version; // RankScope version that ran it
    std::string created; // UTC, ISO 8601 ("2026-11-22T14:03:11Z")
    std::string finished;
    std::optional<int64_t> calibrationArtefact; // statistics used (cached or produced)
    bool calibrationReused = false;             // true when calibration was skipped
    // JSON of the model's config and tokenizer files as the run read them (name, SHA-256, small
    // JSON texts verbatim); empty for experiments recorded before they were kept.
    std::string modelFiles;
};

// One line of a listing: the experiment with what a table shows beside it.
struct ExperimentSummary {
    ExperimentRecord experiment;
    std::string modelPath;
    std::string calibPath;
    int64_t layerCount = 0;
    std::optional<double> bestPerplexity; // lowest over the variants
};

struct ExperimentFilter {
    std::string model; // substring of the model path, or a prefix of its content hash
    std::optional<ExperimentStatus> status;
    std::optional<ExperimentKind> kind;
    int64_t limit = 0; // 0: all; newest first
};

struct ExportRecord {
    int64_t id = 0;
    int64_t experimentId = 0;
    std::optional<int> variant;
    std::string path;
    std::string format; // "merged", "gptq+peft", "factorized"
    std::string contentHash;
    std::string created;
};

// A large file (or directory of files) in the artefact cache, referenced from the database.
struct ArtefactRecord {
    int64_t id = 0;
    std::string key;  // content key (hex), also the cache directory name
    std::string kind; // "calibration"
    std::string description;
    int64_t bytes = 0;
    std::string created;
    std::string lastUsed;
};

} // namespace rs
