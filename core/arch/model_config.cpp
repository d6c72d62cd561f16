#include "arch/model_config.h"

#include "util/error.h"

#include <cmath>
#include <string>

namespace rs {

namespace {

// Large enough for any real model, small enough that products of two sizes cannot overflow.
constexpr int64_t kMaxDim = int64_t(1) << 26;

void checkSize(const std::string& source, const char* key, int64_t value) {
    if (value <= 0)
        fail(source, std::string(key) + " must be positive (got " + std::to_string(value) + ")");
    if (value > kMaxDim)
        fail(source, std::string(key) + " " + std::to_string(value) + " is implausibly large");
}

} // namespace

void ModelConfig::validate(const std::string& source) const {
    checkSize(source, "hidden_size", hiddenSize);
    checkSize(source, "intermediate_size", intermediateSize);
    checkSize(source, "num_hidden_layers", numLayers);
    checkSize(source, "num_attention_heads", numHeads);
    checkSize(source, "num_key_value_heads", numKvHeads);
    checkSize(source, "head_dim", headDim);
    checkSize(source, "vocab_size", vocabSize);
    checkSize(source, "max_position_embeddings", maxPositions);
    if (numHeads % numKvHeads != 0)
        fail(source, "num_attention_heads " + std::to_string(numHeads) +
                         " is not a multiple of num_key_value_heads " + std::to_string(numKvHeads));
    if (numHeads * headDim > kMaxDim)
        fail(source, "num_attention_heads x head_dim is implausibly large");
    if (headDim % 2 != 0) // RoPE rotates pairs of dimensions
        fail(source, "head_dim " + std::to_string(headDim) + " must be even");
    if (!(rmsNormEps > 0) || !std::isfinite(rmsNormEps))
        fail(source,
             "rms_norm_eps must be a positive number (got " + std::to_string(rmsNormEps) + ")");
    if (!(ropeTheta > 0) || !std::isfinite(ropeTheta))
        fail(source,
             "rope_theta must be a positive number (got " + std::to_string(ropeTheta) + ")");
    if (ropeScaling) {
        const RopeScaling& s = *ropeScaling;
        if (s.type != "llama3" && s.type != "linear")
            fail(source,
                 "unsupported rope_scaling type '" + s.type + "' (supported: llama3, linear)");
        if (!(s.factor > 0) || !std::isfinite(s.factor))
            fail(source, "rope_scaling factor must be a positive number");
        if (s.type == "llama3") {
            if (!(s.lowFreqFactor > 0) || !(s.highFreqFactor > s.lowFreqFactor) ||
                !std::isfinite(s.highFreqFactor))
                fail(source, "rope_scaling needs 0 < low_freq_factor < high_freq_factor (got " +
                                 std::to_string(s.lowFreqFactor) + ", " +
                                 std::to_string(s.highFreqFactor) + ")");
            if (s.originalMaxPositions <= 0)
                fail(source, "rope_scaling original_max_position_embeddings must be positive");
        }
    }
    if (bosTokenId && *bosTokenId < 0)
        fail(source, "bos_token_id must not be negative");
    for (const int32_t id : eosTokenIds)
        if (id < 0)
            fail(source, "eos_token_id must not be negative");
}

} // namespace rs
