#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rs {

// llama3-style frequency-dependent RoPE scaling ("rope_type": "llama3"), or plain linear scaling.
struct RopeScaling {
    std::string type; // "llama3" or "linear"
    double factor = 1.0;
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
    int64_t originalMaxPositions = 8192;
};

// The architecture of a LLaMA-family decoder (llama, mistral, qwen2, smollm, llama2.c), as read
// from config.json or a llama2.c header. Field names follow Hugging Face's config.json.
struct ModelConfig {
    std::string modelType = "llama";
    int64_t hiddenSize = 0;
    int64_t intermediateSize = 0;
    int64_t numLayers = 0;
    int64_t numHeads = 0;
    int64_t numKvHeads = 0;
    int64_t headDim = 0;
    int64_t vocabSize = 0;
    int64_t maxPositions = 2048;
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    std::optional<RopeScaling> ropeScaling;
    bool tieWordEmbeddings = false;
    bool attentionBias = false; // q/k/v biases (qwen2 always has them)
    bool mlpBias = false;
    std::optional<int32_t> bosTokenId;
    std::vector<int32_t> eosTokenIds;
    std::string torchDtype = "float32";

    // Checks that the dimensions are positive and consistent (heads divide evenly, ...); fails with
    // "<source>: <problem>".
    void validate(const std::string& source) const;
};

} // namespace rs
