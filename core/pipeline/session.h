#pragma once

#include "eval/perplexity.h"
#include "formats/export_reader.h"
#include "model/summary.h"
#include "util/memory.h"
#include "util/progress.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace rs {

struct Checkpoint;
class LlamaModel;
class Tokenizer;

struct OpenOptions {
    std::string dtype = "float32";   // float32, bfloat16, float16
    std::string device = "cpu";      // cpu, cuda, cuda:N, auto
    std::filesystem::path tokenizer; // overrides the tokenizer found beside the model
    int64_t maxMemory = 0;           // bytes for weights and carried states; 0: the default
};

// A model opened for work: checkpoint, summary, runnable model and tokenizer. This is the entry
// point the CLI and the GUI share; neither touches io/, model/ or eval/ directly.
class ModelSession {
public:
    // `path` is a Hugging Face model directory, a llama2.c .bin file, or any export RankScope
    // writes (gptq+peft, merged, factorized; formats/export_reader.h). An export runs with its
    // low-rank paths applied, y = W_c x + B (A x): GPTQ layers dequantized, the PEFT adapter or
    // factor pairs installed as each linear's low-rank path, factor-only layers without W.
    static std::shared_ptr<ModelSession> open(const std::filesystem::path& path,
                                              const OpenOptions& options = {},
                                              const JobContext& job = {});
    ~ModelSession();

    const ModelSummary& summary() const;
    // The dense weights as loaded (an export's GPTQ layers dequantized; its low-rank paths are
    // not in here but installed in model()).
    const Checkpoint& checkpoint() const;
    // What was opened when it is an export; nullopt for an ordinary checkpoint.
    const std::optional<ExportSummary>& exportSummary() const;
    // Linears with a low-rank path installed at open (an export's adapter or factor pairs).
    int64_t lowRankLayers() const;
    LlamaModel& model();
    const LlamaModel& model() const;
    std::string deviceName() const;
    std::string computeDtype() const; // the dtype the forward pass runs in

    // "tokenizer.bin (llama2.c, 512 tokens)", or why none was found.
    std::string tokenizerDescription() const;

    bool hasTokenizer() const;
    // Fails with the reason no tokenizer could be found when there is none.
    const Tokenizer& tokenizer() const;

private:
    ModelSession();
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

struct GenerateRequest {
    std::string prompt;      // empty: start from BOS alone
    int64_t maxTokens = 256; // new tokens
};

// Fails, naming the model, when the session's model carries low-rank paths from an export:
// compressing or factorizing it again would drop or misread them. `what` names the job.
void requireDenseModel(const ModelSession& session, const std::string& what);

// Greedy generation; onText receives each new piece of text as it is produced. Returns the whole
// generated text. Stops at BOS/EOS, maxTokens or the context limit.
std::string generateText(const ModelSession& session, const GenerateRequest& request,
                         const std::function<void(const std::string&)>& onText = {},
                         const CancelToken& cancel = {});

// Reads, validates and tokenises a text file with the requested or detected protocol (stages
// "read" to detect it and "tokenize"), only as far as options.maxWindows needs, then measures
// perplexity (stage "evaluate").
PerplexityResult evaluateTextFile(const ModelSession& session, const std::filesystem::path& text,
                                  const EvalOptions& options, const JobContext& job = {});

// Process-wide set-up every front end calls once at start: LibTorch's intra-op thread count set
// to the machine's cores (its OpenMP default can be 1 in containers) unless OMP_NUM_THREADS says
// otherwise.
void initializeRuntime();

// The memory budget of one job (JobContext::memory) for `requested` bytes (0: half the RAM):
// half of it for the states the job carries from block to block, which spill beyond it to
// temporary files under the cache directory's "spill" folder; the other half is the session's
// weight cache (OpenOptions::maxMemory).
std::shared_ptr<MemoryBudget> jobMemoryBudget(int64_t requested);

// Resolves "cpu", "cuda", "cuda:1" or "auto"; fails for CUDA when this LibTorch build has none.
std::string resolveDevice(const std::string& requested);

} // namespace rs
