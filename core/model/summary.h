#pragma once

#include "arch/model_config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rs {

struct Checkpoint;

struct LinearLayerInfo {
    std::string name; // "model.layers.0.self_attn.q_proj"
    int64_t block = 0;
    std::string kind; // "q_proj", ...
    int64_t outFeatures = 0;
    int64_t inFeatures = 0;
    bool hasBias = false;
    int64_t parameters = 0; // weight (+ bias)
};

// What a user wants to know about a model before compressing it.
struct ModelSummary {
    std::string source;
    std::string format;
    std::string architecture; // "llama (LLaMA family)", ...
    ModelConfig config;
    std::string storedDtype;         // dtype of the floating tensors on disk/in memory
    int64_t totalParameters = 0;     // tied embeddings counted once
    int64_t embeddingParameters = 0; // input embedding (+ untied output head)
    int64_t linearParameters = 0;    // the decoder linears, what compression acts on
    std::vector<LinearLayerInfo> linears;
    // Tensors in the files that the config does not use (extra layers, an output head beside tied
    // embeddings, stray buffers): never counted, named in a warning.
    std::vector<std::string> unusedTensors;
};

// "N tensors in the files are not used by config.json and not counted: a, b, c and M more";
// empty when every tensor is used.
std::string unusedTensorsWarning(const ModelSummary& summary);

ModelSummary summarize(const Checkpoint& checkpoint);

// A multi-line, aligned text rendering used by `rankscope-cli info`.
std::string formatSummary(const ModelSummary& summary, bool withLayers = true);

} // namespace rs
