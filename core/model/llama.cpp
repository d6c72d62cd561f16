#include "model/llama.h"

#include "io/checkpoint.h"
#include "model/rope.h"
#include "util/error.h"
#include "util/memory.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>
#include <cmath>
#include <limits>

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

// Score matrices of one attention chunk stay below this (glibc serves smaller blocks from its
// heap; larger ones are mapped and faulted in afresh on every allocation).
constexpr int64_t kAttentionChunkBytes = 16LL << 20;
// Queries per causal block: small enough to skip most masked scores, large enough for BLAS.
constexpr int64_t kQueryBlock = 128;

at::Tensor rotateHalf(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

} // namespace

const char* linearSuffix(LinearKind kind) {
    switch (kind) {
    case LinearKind::Q:
        return "self_attn.q_proj";
    case LinearKind::K:
        return "self_attn.k_proj";
    case LinearKind::V:
        return "self_attn.v_proj";
    case LinearKind::O:
        return "self_attn.o_proj";
    case LinearKind::Gate:
        return "mlp.gate_proj";
    case LinearKind::Up:
        return "mlp.up_proj";
    case LinearKind::Down:
        return "mlp.down_proj";
    }
    return "?";
}

std::string linearName(int64_t layer, LinearKind kind) {
    return "model.layers." + std::to_string(layer) + "." + linearSuffix(kind);
}

std::string lowRankTensorName(const std::string& linear, int part) {
    return linear + ".low_rank." + std::to_string(part) + ".weight";
}

InputSite inputSiteOf(LinearKind kind) {
    switch (kind) {
    case LinearKind::Q:
    case LinearKind::K:
    case LinearKind::V:
        return InputSite::Attention;
    case LinearKind::O:
        return InputSite::AttentionOutput;
    case LinearKind::Gate:
    case LinearKind::Up:
        return InputSite::Mlp;
    case LinearKind::Down:
        return InputSite::MlpDown;
    }
    return InputSite::Attention;
}

const char* inputSiteName(InputSite site) {
    switch (site) {
    case InputSite::Attention:
        return "attention input (q/k/v)";
    case InputSite::AttentionOutput:
        return "attention output (o)";
    case InputSite::Mlp:
        return "MLP input (gate/up)";
    case InputSite::MlpDown:
        return "MLP hidden (down)";
    }
    return "?";
}

at::Tensor Linear::forward(const at::Tensor& x) const {
    if (!weight.defined()) {
        const at::Tensor y = at::linear(at::linear(x, loraA), loraB);
        return bias.defined() ? y + bias : y;
    }
    at::Tensor y = bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
    if (loraA.defined())
        y.add_(at::linear(at::linear(x, loraA), loraB));
    return y;
}

int64_t Linear::outFeatures() const {
    return weight.defined() ? weight.size(0) : loraB.size(0);
}
int64_t Linear::inFeatures() const {
    return weight.defined() ? weight.size(1) : loraA.size(1);
}
int64_t Linear::parameters() const {
    const int64_t rank = loraA.defined() ? loraA.size(0) : 0;
    return (weight.defined() ? weight.numel() : 0) + rank * (outFeatures() + inFeatures());
}

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

    at::Tensor place(const std::string& name) const {
        const at::Tensor stored = checkpoint.read(name);
        at::Tensor placed = stored.to(device, computeType).contiguous();
        if (placed.data_ptr() != stored.data_ptr())
            checkpoint.releasePages(name); // converted: the file's pages are not needed now
        return placed;
    }
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
    const int64_t group = heads / kvHeads;

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
    const int64_t span = k.size(2);

    // Grouped-query attention without materialising repeated keys: the `group` query heads that
    // share one key/value head are stacked into one batched matmul. Queries go in blocks that see
    // only the keys up to their last position (causality skips the rest, about half of the
    // scores), and the (batch x kv-head) rows in chunks whose score matrices stay small enough to
    // be reused by the allocator rather than page-faulted in afresh every layer.
    const int64_t rows = batch * kvHeads;
    const at::Tensor q4 = q.reshape({rows, group, time, dim});
    const at::Tensor kr = k.reshape({rows, span, dim});
    const at::Tensor vr = v.reshape({rows, span, dim});
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim));
    at::Tensor out = at::empty({rows, group, time, dim}, q4.options());
    const int64_t block = std::min(time, kQueryBlock);
    for (int64_t t0 = 0; t0 < time; t0 += block) {
        const int64_t tb = std::min(block, time - t0);
        const int64_t visible = maskBias.defined() ? start + t0 + tb : span;
        const int64_t queries = group * tb;
        const at::Tensor qb = q4.narrow(2, t0, tb).reshape({rows, queries, dim});
        const at::Tensor kt = kr.narrow(1, 0, visible).transpose(1, 2);
        const at::Tensor vb = vr.narrow(1, 0, visible);
        at::Tensor bias;
        if (maskBias.defined())
            bias = maskBias.narrow(0, t0, tb).narrow(1, 0, visible).repeat({group, 1});
        const int64_t chunk = std::max<int64_t>(1, kAttentionChunkBytes / (queries * visible * 4));
        at::Tensor outBlock = at::empty({rows, queries, dim}, q4.options());
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
            const int64_t n = std::min(chunk, rows - r0);
            const at::Tensor scores =
                bias.defined() ? at::baddbmm(bias.expand({n, queries, visible}),
                                             qb.narrow(0, r0, n), kt.narrow(0, r0, n), 1.0, scale)
                               : at::bmm(qb.narrow(0, r0, n), kt.narrow(0, r0, n)).mul_(scale);
            const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(computeType);
            at::Tensor target = outBlock.narrow(0, r0, n);
            if (probs.requires_grad() || vb.requires_grad()) // autograd skips out= kernels
                target.copy_(at::bmm(probs, vb.narrow(0, r0, n)));
            else
                at::bmm_out(target, probs, vb.narrow(0, r0, n));
        }
        out.narrow(2, t0, tb).copy_(outBlock.view({rows, group, tb, dim}));
    }
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
    const at::Tensor& embedding = checkpoint.require("model.embed_tokens.weight");
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
    return at::embedding(embedding, ids).to(computeType);
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

std::vector<int32_t> LlamaModel::generateGreedy(const std::vector<int32_t>& prompt,
                                                int64_t maxNewTokens,
                                                const std::vector<int32_t>& stopTokens,
                                                const std::function<void(int32_t)>& onToken,
                                                const CancelToken& cancel) const {
    c10::InferenceMode inference;
    if (prompt.empty())
        fail("generate", "the prompt must hold at least one token (e.g. BOS)");
    const int64_t promptLength = static_cast<int64_t>(prompt.size());
    const int64_t capacity =
        std::min(m_impl->config.maxPositions, promptLength + std::max<int64_t>(maxNewTokens, 0));
    if (promptLength > capacity)
        fail("generate", "the prompt (" + std::to_string(promptLength) +
                             " tokens) is longer than the model context");

    KvCache cache = makeCache(1, capacity);
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);
    std::vector<int32_t> produced;
    while (static_cast<int64_t>(produced.size()) < maxNewTokens) {
        cancel.throwIfCancelled();
        const at::Tensor logits = forward(input, &cache);
        const auto next = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
        if (std::find(stopTokens.begin(), stopTokens.end(), next) != stopTokens.end())
            break;
        produced.push_back(next);
        if (onToken)
            onToken(next);
        if (cache.length >= cache.capacity)
            break;
        input = at::full({1, 1}, static_cast<int64_t>(next), at::kLong);
    }
    return produced;
}

} // namespace rs
