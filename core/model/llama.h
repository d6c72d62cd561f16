#pragma once

#include "arch/model_config.h"
#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <array>
#include <c10/core/Device.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rs {

struct Checkpoint;

// The seven linear layers of a decoder block, in checkpoint order.
enum class LinearKind { Q, K, V, O, Gate, Up, Down };
inline constexpr std::array<LinearKind, 7> kAllLinearKinds = {
    LinearKind::Q,    LinearKind::K,  LinearKind::V,   LinearKind::O,
    LinearKind::Gate, LinearKind::Up, LinearKind::Down};

// "self_attn.q_proj", "mlp.down_proj", ...
const char* linearSuffix(LinearKind kind);
// "model.layers.3.self_attn.q_proj"
std::string linearName(int64_t layer, LinearKind kind);

// The distinct inputs that linear layers read. q/k/v read the same normalised hidden state and
// gate/up read the same one, so calibration statistics are gathered once per site.
enum class InputSite { Attention, AttentionOutput, Mlp, MlpDown };
InputSite inputSiteOf(LinearKind kind);
const char* inputSiteName(InputSite site);

// Called with the input of every linear site as a [tokens, d_in] matrix, before the layer runs.
using LinearInputHook = std::function<void(int64_t layer, InputSite site, const at::Tensor& x)>;

// One linear layer: y = W x (+ b) (+ B (A x)). The optional low-rank path holds compensation
// factors; it is applied as two thin matmuls, never merged into W behind the caller's back.
// Without W (undefined weight) the layer is factor-only, y = B (A x) (+ b): LoRD and Lillama
// replace the dense matrix, so the saving is real in memory and in flops.
// Where a checkpoint carries a linear's low-rank path: "<linear>.low_rank.0.weight" (A, part 0)
// and "<linear>.low_rank.1.weight" (B, part 1), the names of the factorized export format.
// Blocks are built with the pair; a linear with a pair and no weight is factor-only.
std::string lowRankTensorName(const std::string& linear, int part);

struct Linear {
    at::Tensor weight; // [d_out, d_in], or undefined for a factor-only layer
    at::Tensor bias;   // [d_out] or undefined
    at::Tensor loraA;  // [r, d_in] or undefined
    at::Tensor loraB;  // [d_out, r] or undefined

    at::Tensor forward(const at::Tensor& x) const;
    int64_t outFeatures() const;
    int64_t inFeatures() const;
    bool factorOnly() const { return !weight.defined(); }
    // Weights stored for the matmuls: d_out d_in (dense) plus r (d_out + d_in) (factors).
    int64_t parameters() const;
};

struct DecoderLayer {
    at::Tensor inputNorm;
    at::Tensor postAttentionNorm;
    std::array<Linear, 7> linears; // indexed by LinearKind

    Linear& linear(LinearKind kind) { return linears[static_cast<size_t>(kind)]; }
    const Linear& linear(LinearKind kind) const { return linears[static_cast<size_t>(kind)]; }
};

// Keys and values of past positions for incremental decoding, one pair per decoder layer,
// preallocated for `capacity` positions.
struct KvCache {
    std::vector<at::Tensor> keys;   // [batch, kv_heads, capacity, head_dim]
    std::vector<at::Tensor> values; // same
    int64_t length = 0;             // positions filled
    int64_t capacity = 0;
};

struct ModelOptions {
    c10::Device device = c10::Device(c10::kCPU);
    std::string dtype = "float32"; // "float32", "bfloat16", "float16"
};

// The LLaMA-family decoder (LLaMA 1/2/3, Mistral, Qwen2, SmolLM, llama2.c): RMSNorm, RoPE
// (rotate-half convention, optional llama3 scaling), grouped-query attention, SwiGLU MLP,
// optional q/k/v biases and tied embeddings. Every call runs without autograd except
// decoderLayerWithGrad().
class LlamaModel {
public:
    LlamaModel(const Checkpoint& checkpoint, const ModelOptions& options = {});
    ~LlamaModel();
    LlamaModel(LlamaModel&&) noexcept;
    LlamaModel& operator=(LlamaModel&&) noexcept;

    const ModelConfig& config() const;
    // The checkpoint's file or directory, for messages about the model.
    const std::filesystem::path& source() const;
    c10::Device device() const;
    // The dtype the matmuls run in (float16 weights compute in float32 on CPU, which lacks
    // half-precision matmul kernels).
    std::string computeDtype() const;

    // tokens: [batch, time] int64 on any device. Returns float32 logits [batch, time, vocab].
    // With a cache, the tokens continue at position cache->length and the cache is extended.
    at::Tensor forward(const at::Tensor& tokens, KvCache* cache = nullptr) const;

    // Hidden states after the final norm, [batch, time, hidden] (for losses that avoid the
    // full-vocabulary logits tensor).
    at::Tensor hiddenStates(const at::Tensor& tokens, KvCache* cache = nullptr) const;
    at::Tensor logitsFrom(const at::Tensor& hidden) const;

    KvCache makeCache(int64_t batch, int64_t capacity) const;

    // Layer-by-layer evaluation (calibration streams inputs through one decoder layer at a time):
    // embed() gives the hidden states [batch, time, hidden] of tokens, decoderLayer() runs one
    // block on full sequences starting at position 0, finalNorm() applies the last RMSNorm.
    at::Tensor embed(const at::Tensor& tokens) const;
    at::Tensor decoderLayer(int64_t index, const at::Tensor& hidden) const;
    at::Tensor finalNorm(const at::Tensor& hidden) const;
    // decoderLayer() with autograd recording (local distillation trains one layer's factors):
    // gradients reach every tensor of the layer that requires them.
    at::Tensor decoderLayerWithGrad(int64_t index, const at::Tensor& hidden) const;

    // Greedy decoding from `prompt` (which must be non-empty, e.g. just BOS). Stops after
    // maxNewTokens, at the context limit, or when a token in stopTokens is produced (the stop
    // token is not returned). onToken sees each new token as it is produced.
    std::vector<int32_t> generateGreedy(const std::vector<int32_t>& prompt, int64_t maxNewTokens,
                                        const std::vector<int32_t>& stopTokens,
                                        const std::function<void(int32_t)>& onToken = {},
                                        const CancelToken& cancel = {}) const;

    // Observer of every linear input; an empty hook costs nothing.
    void setLinearInputHook(LinearInputHook hook);

    int64_t numLayers() const;
    // Decoder blocks are built from the checkpoint (converted to the compute dtype, on the
    // device) when first used. The mutable accessor pins the block: what the caller changes in
    // it stays until resetLayer(). The const one may be dropped again by releaseLayer() or by
    // the weight cache; its reference is valid until another block is used.
    DecoderLayer& layer(int64_t index);
    const DecoderLayer& layer(int64_t index) const;
    // The dense weight of one linear of block `index` in the compute dtype: the resident block's
    // (with any change made to it) when the block is built, else read from the checkpoint on its
    // own, without building the block. Fails for a factor-only linear.
    at::Tensor linearWeight(int64_t index, LinearKind kind) const;
    // Drops block `index` unless it is pinned (streaming passes call it once every window has
    // gone through the block, so that one block is in memory at a time).
    void releaseLayer(int64_t index) const;
    // Drops block `index` with any change made to it; it is built from the checkpoint again.
    void resetLayer(int64_t index);
    // Drops the output head (built again on the next logits).
    void releaseHead() const;
    // Upper bound on the unpinned blocks kept resident between uses (least recently used go
    // first); unbounded by default.
    void setWeightCacheBytes(int64_t bytes);
    int64_t residentLayers() const;
    // Bytes of one decoder block's linear weights in the compute dtype.
    int64_t blockBytes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace rs
