#include "model/llama.h"

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/attention.h"
#include "model/rope.h"
#include "util/error.h"
#include "util/memory.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace rs {

namespace {

at::ScalarType scalarTypeOf(const std::string& dtype) {
    if (dtype == "float32")
        return at::kFloat;
    if (dtype == "bfloat16")
        return at::kBFloat16;
    if (dtype == "float16")
        return at::kHalf;
    fail("dtype", "unsupported model dtype '" + dtype + "' (use float32, bfloat16 or float16)");
}

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    // Normalise in float32 whatever the compute dtype, as the reference implementation does.
    const at::Tensor xf = x.to(at::kFloat);
    const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean({-1}, true) + eps);
    return weight * normed.to(x.scalar_type());
}

at::Tensor rotateHalf(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

} // namespace

struct LlamaModel::Impl {
    ModelConfig config;
    c10::Device device = c10::Device(c10::kCPU);
    at::ScalarType computeType = at::kFloat;
    // The weights' source: views of the mapped files (or tensors in memory). Decoder blocks and
    // the output head are built from it when first used and dropped again by releaseLayer(),
    // so a forward pass that goes block by block holds one block at a time.
    Checkpoint checkpoint;
    at::Tensor embedding; // [vocab, hidden] as stored (rows are converted as they are looked up)
    at::Tensor finalNorm;
    mutable at::Tensor lmHead; // [vocab, hidden] in the compute dtype, built on first use
    mutable std::vector<std::shared_ptr<DecoderLayer>> layers; // null: not resident
    mutable std::vector<char> pinned;      // changed by a caller: kept until resetLayer()
    mutable std::vector<uint64_t> lastUse; // for least-recently-used eviction
    mutable uint64_t useClock = 0;
    int64_t cacheBytes = std::numeric_limits<int64_t>::max();
    at::Tensor ropeCos; // [max_positions, head_dim], float32
    at::Tensor ropeSin;
    LinearInputHook hook;

    // Every tensor is checked for NaN and Inf once, when first placed: a damaged checkpoint fails
    // naming the tensor and its file instead of producing garbage downstream.
    mutable std::unordered_set<std::string> checkedFinite;

    at::Tensor place(const std::string& name) const {
        const at::Tensor stored = checkpoint.read(name);
        at::Tensor placed = stored.to(device, computeType).contiguous();
        requireFinite(name, stored, placed);
        if (placed.data_ptr() != stored.data_ptr())
            checkpoint.releasePages(name); // converted: the file's pages are not needed now
        return placed;
    }
    std::string fileOf(const std::string& name) const {
        const auto mapped = checkpoint.mappedFiles.find(name);
        return mapped != checkpoint.mappedFiles.end() ? mapped->second->path().string()
                                                      : checkpoint.source.string();
    }
    void requireFinite(const std::string& name, const at::Tensor& stored,
                       const at::Tensor& placed) const;
    std::shared_ptr<DecoderLayer> build(int64_t index) const;
    std::shared_ptr<DecoderLayer> acquire(int64_t index) const;
    void drop(int64_t index) const;
    void evictBeyondBudget(int64_t keep) const;
    const at::Tensor& head() const;

    // maskBias: [time, span] additive causal mask (0 or -inf), undefined for one token.
    at::Tensor attention(int64_t index, const DecoderLayer& layer, const at::Tensor& x,
                         KvCache* cache, int64_t start, const at::Tensor& maskBias) const;
    at::Tensor causalMaskBias(int64_t start, int64_t time) const;
    at::Tensor block(int64_t index, const at::Tensor& h, KvCache* cache, int64_t start,
                     const at::Tensor& maskBias) const;
    // Embeds tokens after checking their shape, range and that they fit the context.
    at::Tensor embedChecked(const at::Tensor& tokens, int64_t start, int64_t limit) const;
    at::Tensor mlp(int64_t index, const DecoderLayer& layer, const at::Tensor& x) const;
    void observe(int64_t index, InputSite site, const at::Tensor& x) const {
        if (hook)
            hook(index, site, x.reshape({-1, x.size(-1)}));
    }
};

namespace {

std::vector<std::string> layerTensorNames(int64_t index) {
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    std::vector<std::string> names = {prefix + "input_layernorm.weight",
                                      prefix + "post_attention_layernorm.weight"};
    for (LinearKind kind : kAllLinearKinds) {
        const std::string linear = linearName(index, kind);
        for (const std::string& name : {linear + ".weight", linear + ".bias",
                                        lowRankTensorName(linear, 0), lowRankTensorName(linear, 1)})
            names.push_back(name);
    }
    return names;
}

// Every linear of block `index` needs its weight or a low-rank pair (a factor-only layer), and
// a pair needs both halves; a norm is always needed.
void requireLayerTensors(const Checkpoint& checkpoint, int64_t index) {
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    checkpoint.require(prefix + "input_layernorm.weight");
    checkpoint.require(prefix + "post_attention_layernorm.weight");
    for (LinearKind kind : kAllLinearKinds) {
        const std::string linear = linearName(index, kind);
        const bool pairA = checkpoint.find(lowRankTensorName(linear, 0)) != nullptr;
        const bool pairB = checkpoint.find(lowRankTensorName(linear, 1)) != nullptr;
        if (pairA != pairB)
            checkpoint.require(lowRankTensorName(linear, pairA ? 1 : 0));
        if (!pairA)
            checkpoint.require(linear + ".weight");
    }
}

int64_t layerBytes(const DecoderLayer& layer) {
    int64_t bytes = layer.inputNorm.nbytes() + layer.postAttentionNorm.nbytes();
    for (const Linear& l : layer.linears)
        for (const at::Tensor* t : {&l.weight, &l.bias, &l.loraA, &l.loraB})
            if (t->defined())
                bytes += static_cast<int64_t>(t->nbytes());
    return bytes;
}

} // namespace

void LlamaModel::Impl::requireFinite(const std::string& name, const at::Tensor& stored,
                                     const at::Tensor& placed) const {
    if (checkedFinite.count(name))
        return;
    if (!at::isfinite(placed).all().item<bool>()) {
        const bool converted = placed.scalar_type() != stored.scalar_type();
        if (converted && at::isfinite(stored).all().item<bool>())
            fail(fileOf(name), "tensor '" + name + "' has values too large for " +
                                   std::string(c10::toString(computeType)) +
                                   " (open the model in float32 or bfloat16)");
        fail(fileOf(name), "tensor '" + name + "' holds NaN or Inf values");
    }
    checkedFinite.insert(name);
}

std::shared_ptr<DecoderLayer> LlamaModel::Impl::build(int64_t index) const {
    checkpoint.checkFilesIntact();
    auto layer = std::make_shared<DecoderLayer>();
    const std::string prefix = "model.layers." + std::to_string(index) + ".";
    layer->inputNorm = place(prefix + "input_layernorm.weight");
    layer->postAttentionNorm = place(prefix + "post_attention_layernorm.weight");
    for (LinearKind kind : kAllLinearKinds) {
        Linear& linear = layer->linear(kind);
        const std::string name = linearName(index, kind);
        if (checkpoint.find(name + ".weight"))
            linear.weight = place(name + ".weight");
        if (checkpoint.find(name + ".bias"))
            linear.bias = place(name + ".bias");
        if (checkpoint.find(lowRankTensorName(name, 0))) {
            linear.loraA = place(lowRankTensorName(name, 0));
            linear.loraB = place(lowRankTensorName(name, 1));
        }
    }
    return layer;
}

std::shared_ptr<DecoderLayer> LlamaModel::Impl::acquire(int64_t index) const {
    if (index < 0 || index >= config.numLayers)
        fail("forward", "no decoder layer " + std::to_string(index));
    const auto i = static_cast<size_t>(index);
    if (!layers[i]) {
        layers[i] = build(index);
        evictBeyondBudget(index);
    }
    lastUse[i] = ++useClock;
    return layers[i];
}

void LlamaModel::Impl::drop(int64_t index) const {
    const auto i = static_cast<size_t>(index);
    layers[i].reset();
    pinned[i] = 0;
    // Converted copies are gone with the layer; views of the mapping leave the resident set.
    for (const std::string& name : layerTensorNames(index))
        checkpoint.releasePages(name);
    returnFreedHeap();
}

void LlamaModel::Impl::evictBeyondBudget(int64_t keep) const {
    for (;;) {
        int64_t resident = 0, victim = -1;
        for (size_t i = 0; i < layers.size(); ++i) {
            if (!layers[i] || pinned[i])
                continue;
            resident += layerBytes(*layers[i]);
            if (static_cast<int64_t>(i) != keep && (victim < 0 || lastUse[i] < lastUse[victim]))
                victim = static_cast<int64_t>(i);
        }
        if (resident <= cacheBytes || victim < 0)
            return;
        drop(victim);
    }
}

const at::Tensor& LlamaModel::Impl::head() const {
    if (!lmHead.defined()) {
        checkpoint.checkFilesIntact();
        lmHead = place(config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight");
    }
    return lmHead;
}

at::Tensor LlamaModel::Impl::attention(int64_t index, const DecoderLayer& layer,
                                       const at::Tensor& x, KvCache* cache, int64_t start,
                                       const at::Tensor& maskBias) const {
    const int64_t batch = x.size(0), time = x.size(1);
    const int64_t heads = config.numHeads, kvHeads = config.numKvHeads, dim = config.headDim;

    observe(index, InputSite::Attention, x);
    at::Tensor q = layer.linear(LinearKind::Q).forward(x).view({batch, time, heads, dim});
    at::Tensor k = layer.linear(LinearKind::K).forward(x).view({batch, time, kvHeads, dim});
    at::Tensor v = layer.linear(LinearKind::V).forward(x).view({batch, time, kvHeads, dim});
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    v = v.transpose(1, 2);

    const at::Tensor cos = ropeCos.narrow(0, start, time).to(computeType);
    const at::Tensor sin = ropeSin.narrow(0, start, time).to(computeType);
    q = q * cos + rotateHalf(q) * sin;
    k = k * cos + rotateHalf(k) * sin;

    if (cache) {
        const size_t i = static_cast<size_t>(index);
        cache->keys[i].narrow(2, start, time).copy_(k);
        cache->values[i].narrow(2, start, time).copy_(v);
        k = cache->keys[i].narrow(2, 0, start + time);
        v = cache->values[i].narrow(2, 0, start + time);
    }
    at::Tensor out = groupedCausalAttention(q, k, v, maskBias, start);
    out = out.view({batch, heads, time, dim}).transpose(1, 2).reshape({batch, time, heads * dim});

    observe(index, InputSite::AttentionOutput, out);
    return layer.linear(LinearKind::O).forward(out);
}

at::Tensor LlamaModel::Impl::causalMaskBias(int64_t start, int64_t time) const {
    if (time == 1)
        return {}; // a single new token may attend to every cached position
    const int64_t span = start + time;
    const at::Tensor queryPos = at::arange(start, span, at::kLong).unsqueeze(1);
    const at::Tensor keyPos = at::arange(0, span, at::kLong).unsqueeze(0);
    const at::Tensor bias =
        at::zeros({time, span}, at::kFloat)
            .masked_fill_(keyPos > queryPos, -std::numeric_limits<float>::infinity());
    return bias.to(device, computeType);
}

at::Tensor LlamaModel::Impl::mlp(int64_t index, const DecoderLayer& layer,
                                 const at::Tensor& x) const {
    observe(index, InputSite::Mlp, x);
    const at::Tensor gate = layer.linear(LinearKind::Gate).forward(x);
    const at::Tensor up = layer.linear(LinearKind::Up).forward(x);
    const at::Tensor hidden = at::silu(gate).mul_(up);
    observe(index, InputSite::MlpDown, hidden);
    return layer.linear(LinearKind::Down).forward(hidden);
}

LlamaModel::LlamaModel(const Checkpoint& checkpoint, const ModelOptions& options)
    : m_impl(std::make_unique<Impl>()) {
    Impl& m = *m_impl;
    m.config = checkpoint.config;
    m.config.validate(checkpoint.source.string());
    m.checkpoint = checkpoint; // tensor handles and mappings, not copies of the weights
    m.device = options.device;
    const at::ScalarType storage = scalarTypeOf(options.dtype);
    m.computeType = (storage == at::kHalf && m.device.is_cpu()) ? at::kFloat : storage;

    // Fail now, naming the tensor, rather than in the middle of a job.
    for (int64_t i = 0; i < m.config.numLayers; ++i)
        requireLayerTensors(checkpoint, i);
    if (!m.config.tieWordEmbeddings)
        checkpoint.require("lm_head.weight");
    // A mapped view, or computed once when deferred (a GGUF export's decoded rows).
    const at::Tensor embedding = checkpoint.read("model.embed_tokens.weight");
    m.embedding = m.device.is_cpu() ? embedding : embedding.to(m.device, m.computeType);
    m.finalNorm = m.place("model.norm.weight").clone(); // small: owned, never read from the file

    const auto n = static_cast<size_t>(m.config.numLayers);
    m.layers.resize(n);
    m.pinned.assign(n, 0);
    m.lastUse.assign(n, 0);

    const RopeTables rope = buildRopeTables(m.config);
    m.ropeCos = rope.cos.to(m.device);
    m.ropeSin = rope.sin.to(m.device);
}

LlamaModel::~LlamaModel() = default;
LlamaModel::LlamaModel(LlamaModel&&) noexcept = default;
LlamaModel& LlamaModel::operator=(LlamaModel&&) noexcept = default;

const ModelConfig& LlamaModel::config() const {
    return m_impl->config;
}
c10::Device LlamaModel::device() const {
    return m_impl->device;
}

const std::filesystem::path& LlamaModel::source() const {
    return m_impl->checkpoint.source;
}

std::string LlamaModel::computeDtype() const {
    switch (m_impl->computeType) {
    case at::kBFloat16:
        return "bfloat16";
    case at::kHalf:
        return "float16";
    default:
        return "float32";
    }
}

int64_t LlamaModel::numLayers() const {
    return static_cast<int64_t>(m_impl->layers.size());
}
DecoderLayer& LlamaModel::layer(int64_t index) {
    DecoderLayer& layer = *m_impl->acquire(index);
    m_impl->pinned[static_cast<size_t>(index)] = 1; // the caller may change it: keep it
    return layer;
}
const DecoderLayer& LlamaModel::layer(int64_t index) const {
    return *m_impl->acquire(index);
}

at::Tensor LlamaModel::linearWeight(int64_t index, LinearKind kind) const {
    if (index < 0 || index >= numLayers())
        fail("model", "no decoder layer " + std::to_string(index));
    const std::string name = linearName(index, kind);
    at::Tensor weight;
    if (const auto& resident = m_impl->layers[static_cast<size_t>(index)])
        weight = resident->linear(kind).weight;
    else if (m_impl->checkpoint.find(name + ".weight")) {
        m_impl->checkpoint.checkFilesIntact(); // a shard cut short fails here, not on SIGBUS
        weight = m_impl->place(name + ".weight");
    }
    if (!weight.defined())
        fail(name, "has no dense weight (it holds low-rank factors only)");
    return weight;
}

void LlamaModel::releaseLayer(int64_t index) const {
    if (index < 0 || index >= numLayers())
        fail("model", "no decoder layer " + std::to_string(index));
    if (!m_impl->pinned[static_cast<size_t>(index)])
        m_impl->drop(index);
}

void LlamaModel::resetLayer(int64_t index) {
    if (index < 0 || index >= numLayers())
        fail("model", "no decoder layer " + std::to_string(index));
    m_impl->drop(index);
}

void LlamaModel::releaseHead() const {
    m_impl->lmHead = at::Tensor();
    m_impl->checkpoint.releasePages(m_impl->config.tieWordEmbeddings ? "model.embed_tokens.weight"
                                                                     : "lm_head.weight");
}

void LlamaModel::setWeightCacheBytes(int64_t bytes) {
    m_impl->cacheBytes = std::max<int64_t>(bytes, 0);
    m_impl->evictBeyondBudget(-1);
}

int64_t LlamaModel::residentLayers() const {
    int64_t count = 0;
    for (const auto& layer : m_impl->layers)
        count += layer ? 1 : 0;
    return count;
}

int64_t LlamaModel::blockBytes() const {
    const ModelConfig& c = m_impl->config;
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    const int64_t weights = c.hiddenSize * (2 * q + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize;
    return weights * static_cast<int64_t>(at::elementSize(m_impl->computeType));
}

void LlamaModel::setLinearInputHook(LinearInputHook hook) {
    m_impl->hook = std::move(hook);
}

KvCache LlamaModel::makeCache(int64_t batch, int64_t capacity) const {
    const Impl& m = *m_impl;
    KvCache cache;
    cache.capacity = capacity;
    const auto options = at::TensorOptions().dtype(m.computeType).device(m.device);
    for (int64_t i = 0; i < m.config.numLayers; ++i) {
        cache.keys.push_back(
            at::zeros({batch, m.config.numKvHeads, capacity, m.config.headDim}, options));
        cache.values.push_back(
            at::zeros({batch, m.config.numKvHeads, capacity, m.config.headDim}, options));
    }
    return cache;
}

at::Tensor LlamaModel::Impl::block(int64_t index, const at::Tensor& h, KvCache* cache,
                                   int64_t start, const at::Tensor& maskBias) const {
    const std::shared_ptr<DecoderLayer> held = acquire(index); // alive for the whole block
    const DecoderLayer& layer = *held;
    at::Tensor out = h + attention(index, layer, rmsNorm(h, layer.inputNorm, config.rmsNormEps),
                                   cache, start, maskBias);
    return out + mlp(index, layer, rmsNorm(out, layer.postAttentionNorm, config.rmsNormEps));
}

at::Tensor LlamaModel::Impl::embedChecked(const at::Tensor& tokens, int64_t start,
                                          int64_t limit) const {
    if (tokens.dim() != 2)
        fail("forward", "tokens must be a [batch, time] tensor");
    const int64_t time = tokens.size(1);
    const int64_t context = std::min(limit, ropeCos.size(0));
    if (start + time > context)
        fail("forward", "sequence of " + std::to_string(start + time) +
                            " positions exceeds the model context of " + std::to_string(context));
    const at::Tensor ids = tokens.to(device, at::kLong);
    checkpoint.checkFilesIntact(); // the lookup reads the mapped embedding rows
    if (ids.numel() > 0 &&
        (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= config.vocabSize))
        fail("forward",
             "token id out of range for a vocabulary of " + std::to_string(config.vocabSize));
    const at::Tensor rows = at::embedding(embedding, ids).to(computeType);
    // The embedding is read row by row as tokens look it up, so its rows are checked here.
    if (!at::isfinite(rows).all().item<bool>())
        fail(
            fileOf("model.embed_tokens.weight"),
            "tensor 'model.embed_tokens.weight' holds NaN or Inf values (or values too large for " +
                std::string(c10::toString(computeType)) + ") in the rows of the tokens used");
    return rows;
}

at::Tensor LlamaModel::hiddenStates(const at::Tensor& tokens, KvCache* cache) const {
    c10::InferenceMode inference;
    const Impl& m = *m_impl;
    const int64_t start = cache ? cache->length : 0;
    at::Tensor h = m.embedChecked(tokens, start, cache ? cache->capacity : m.config.maxPositions);
    const at::Tensor maskBias = m.causalMaskBias(start, tokens.size(1));
    for (int64_t i = 0; i < m.config.numLayers; ++i)
        h = m.block(i, h, cache, start, maskBias);
    if (cache)
        cache->length = start + tokens.size(1);
    return rmsNorm(h, m.finalNorm, m.config.rmsNormEps);
}

at::Tensor LlamaModel::embed(const at::Tensor& tokens) const {
    c10::InferenceMode inference;
    return m_impl->embedChecked(tokens, 0, m_impl->config.maxPositions);
}

at::Tensor LlamaModel::decoderLayer(int64_t index, const at::Tensor& hidden) const {
    c10::InferenceMode inference;
    const Impl& m = *m_impl;
    if (index < 0 || index >= m.config.numLayers)
        fail("forward", "no decoder layer " + std::to_string(index));
    return m.block(index, hidden, nullptr, 0, m.causalMaskBias(0, hidden.size(1)));
}

at::Tensor LlamaModel::decoderLayerWithGrad(int64_t index, const at::Tensor& hidden) const {
    const Impl& m = *m_impl;
    if (index < 0 || index >= m.config.numLayers)
        fail("forward", "no decoder layer " + std::to_string(index));
    return m.block(index, hidden, nullptr, 0, m.causalMaskBias(0, hidden.size(1)));
}

at::Tensor LlamaModel::finalNorm(const at::Tensor& hidden) const {
    c10::InferenceMode inference;
    return rmsNorm(hidden, m_impl->finalNorm, m_impl->config.rmsNormEps);
}

at::Tensor LlamaModel::logitsFrom(const at::Tensor& hidden) const {
    c10::InferenceMode inference;
    return at::linear(hidden, m_impl->head()).to(at::kFloat);
}

at::Tensor LlamaModel::forward(const at::Tensor& tokens, KvCache* cache) const {
    return logitsFrom(hiddenStates(tokens, cache));
}

} // namespace rs
