#pragma once

#include "eval/perplexity.h"
#include "model/llama.h"

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace rs {

struct Checkpoint;
class ModelSession;

// Which decoder linears a job touches: names ("model.layers.3.mlp.down_proj") matching any
// include regex (all when empty) and no exclude regex. Embeddings and the output head are never
// candidates.
struct LayerSelection {
    std::vector<std::string> include;
    std::vector<std::string> exclude;
};

// One decoder linear a job touches, with its shape from the checkpoint's tensor headers.
struct SelectedLinear {
    int64_t block = 0;
    LinearKind kind = LinearKind::Q;
    std::string name; // "model.layers.3.mlp.down_proj"
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
};

// The decoder linears of `checkpoint` that `selection` names, block by block in the order of
// kAllLinearKinds. Reads no weight. Fails naming the pattern when one is not a valid regular
// expression, and when nothing matches.
std::vector<SelectedLinear> selectLinears(const Checkpoint& checkpoint,
                                          const LayerSelection& selection);

// What every job over a model's decoder linears (compression, LoRD/Lillama) reads besides its
// method and ranks: the text it calibrates on, the layers it touches and how it is evaluated.
struct JobInputs {
    std::filesystem::path calibText; // calibration text (never the evaluation text)
    int64_t calibTokens = 16384;     // calibration token budget; 0: the whole text
    int64_t calibSeqLen = 512;       // calibration window length (capped by the model context)
    LayerSelection layers;
    std::filesystem::path evalText; // perplexity of every variant when set
    EvalOptions eval;               // window length, window cap and protocol of the evaluation
    bool evaluateBaseline = false;  // perplexity of the original model too
    bool analyze = true;            // per layer: spectra and error curves
};

// The inputs' keys of a stored request: calib_text, calib_tokens, calib_seq_len, layers,
// eval_text, eval, evaluate_baseline and analyze. Both request formats have always used these
// keys, so databases written before JobInputs existed read back unchanged.
nlohmann::json jobInputsJson(const JobInputs& inputs);

// The inverse, from a whole stored request (its other keys are ignored). A missing key throws
// nlohmann::json's exception, for the caller to name the request; an unknown evaluation protocol
// fails naming `what`.
JobInputs jobInputsFromJson(const nlohmann::json& request, const std::string& what);

// The command-line options that give these inputs to `rankscope-cli compress` or `lowrank`
// (" --calib FILE --calib-tokens N --include 'RE' ..."), for the command that re-runs a stored
// experiment.
std::string jobInputsOptions(const JobInputs& inputs);

// A calibration text tokenized by the session's tokenizer with the protocol its content shows,
// read only as far as its first `maxTokens` tokens (0: the whole text); errors name the file.
TokenStream tokenStream(const ModelSession& session, const std::filesystem::path& path,
                        int64_t maxTokens, const JobContext& job = {});

// The job's evaluation text (inputs.evalText) under inputs.eval's protocol (else the one its
// content shows), read only as far as inputs.eval's windows need.
TokenStream evaluationStream(const ModelSession& session, const JobInputs& inputs,
                             const JobContext& job = {});

} // namespace rs
