#pragma once

#include "eval/perplexity.h"
#include "store/records.h"
#include "util/progress.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rs {

class ExperimentStore;
class ModelSession;
struct LayerAnalysis;
struct MethodSpec;

// What every recorded job (compression, LoRD/Lillama) writes the same way.

// Whether a remembered file hash may stand for the file's content. A new run uses the memo (it
// misses on any write, see FileStamp); an export that must prove it reproduces a recorded run
// reads the real bytes.
enum class HashMemo { Use, Bypass };

// hashWeights() of a checkpoint with the store's memo; the hashes read are remembered.
std::string hashModelWeights(ExperimentStore& store, const std::filesystem::path& checkpoint,
                             HashMemo memo, const JobContext& job);

// The session model's side files (config, tokenizer) as ExperimentRecord::modelFiles keeps them.
std::string recordModelFiles(const ModelSession& session, const JobContext& job);

// The session's model with the content hash of its weights (hashed once per file version,
// remembered in the store), inserted or updated; the returned record has its id.
ModelRecord registerModel(ExperimentStore& store, const ModelSession& session,
                          const JobContext& job);
// A text file with its content hash, protocol and token count under the session's tokenizer.
DatasetRecord registerText(ExperimentStore& store, const ModelSession& session,
                           const std::filesystem::path& path, const JobContext& job);

// The row of one perplexity: of a variant, or of the original model (nullopt).
EvaluationRecord evaluationRecord(std::optional<size_t> variant, std::optional<int64_t> dataset,
                                  const PerplexityResult& perplexity);

// A layer's spectra and error curves into its row.
// The registry entry a stored variant ran with: its compensation, or a low-rank experiment's
// method. Null for a method this build does not know.
const MethodSpec* recordedMethod(const VariantRecord& variant);

void storeAnalysis(const LayerAnalysis& analysis, LayerRecord& row);

// Runs the job and records how experiment `id` ended: Done, Cancelled, or Failed with the
// message, with the stage times `stageSeconds` holds by then. A failure is rethrown.
void recordOutcome(ExperimentStore& store, int64_t id,
                   const std::vector<std::pair<std::string, double>>& stageSeconds,
                   const std::function<void()>& job);

} // namespace rs
