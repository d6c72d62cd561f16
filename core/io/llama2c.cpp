#include "io/llama2c.h"

#include "io/dtype.h"
#include "io/mappedfile.h"
#include "util/error.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>

namespace rs {

namespace {

uint64_t mul(uint64_t a, uint64_t b, const std::string& source) {
    uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r))
        fail(source, "header sizes overflow");
    return r;
}

uint64_t add(uint64_t a, uint64_t b, const std::string& source) {
    uint64_t r = 0;
    if (__builtin_add_overflow(a, b, &r))
        fail(source, "header sizes overflow");
    return r;
}

std::string describe(const Llama2cHeader& h) {
    return "dim " + std::to_string(h.dim) + ", hidden_dim " + std::to_string(h.hiddenDim) +
           ", n_layers " + std::to_string(h.numLayers) + ", n_heads " + std::to_string(h.numHeads) +
           ", n_kv_heads " + std::to_string(h.numKvHeads) + ", vocab_size " +
           std::to_string(h.vocabSize) + ", seq_len " + std::to_string(h.seqLen);
}

// Reads consecutive float32 arrays out of the mapping; the size check guarantees they fit.
class Reader {
public:
    Reader(const MappedFile& file, at::ScalarType floatType)
        : m_file(file)
        , m_offset(28)
        , m_floatType(floatType) {}

    at::Tensor next(const std::vector<int64_t>& shape) {
        uint64_t bytes = 4;
        for (const int64_t d : shape)
            bytes *= static_cast<uint64_t>(d);
        std::span<const std::byte> view{m_file.data() + m_offset, static_cast<size_t>(bytes)};
        m_offset += bytes;
        return tensorFromBytes(view, DType::F32, shape, m_floatType);
    }

    void skip(uint64_t floats) { m_offset += 4 * floats; }

private:
    const MappedFile& m_file;
    uint64_t m_offset;
    at::ScalarType m_floatType;
};

// llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face rotates (i, i + head_dim/2). Per
// head, row 2i + j moves to row j * head_dim/2 + i -- the permute of convert_llama_weights_to_hf.
at::Tensor toRotateHalf(const at::Tensor& w, int64_t heads, int64_t headDim) {
    const int64_t rows = w.size(0), cols = w.size(1);
    at::Tensor r = w.reshape({heads, headDim / 2, 2, cols}).transpose(1, 2).reshape({rows, cols});
    return r.is_alias_of(w) ? r.clone() : r; // head_dim 2 needs no move, but must not alias
}

} // namespace

uint64_t llama2cFileSize(const Llama2cHeader& h, const std::string& source) {
    if (h.dim <= 0 || h.hiddenDim <= 0 || h.numLayers <= 0 || h.numHeads <= 0 ||
        h.numKvHeads <= 0 || h.vocabSize == 0 || h.seqLen <= 0 ||
        h.vocabSize == std::numeric_limits<int32_t>::min())
        fail(source, "not a llama2.c checkpoint: implausible header (" + describe(h) + ")");
    if (h.dim % h.numHeads != 0 || h.numHeads % h.numKvHeads != 0 || (h.dim / h.numHeads) % 2 != 0)
        fail(source, "inconsistent header: dim must split into n_heads heads of even size and "
                     "n_heads must be a multiple of n_kv_heads (" +
                         describe(h) + ")");
    const uint64_t dim = h.dim, hidden = h.hiddenDim, layers = h.numLayers;
    const uint64_t vocab = std::abs(h.vocabSize), headSize = dim / h.numHeads;
    const uint64_t kvDim = dim * h.numKvHeads / h.numHeads;
    // Float counts in file order, with checked arithmetic: the header is untrusted.
    const auto term = [&](uint64_t a, uint64_t b) { return mul(a, b, source); };
    const uint64_t parts[] = {
        term(vocab, dim),                             // token_embedding
        term(layers, 2 * dim),                        // rms_att, rms_ffn
        term(layers, term(dim, 2 * dim + 2 * kvDim)), // wq, wk, wv, wo
        term(layers, term(3 * dim, hidden)),          // w1, w2, w3
        dim,                                          // rms_final
        term(uint64_t(h.seqLen), headSize),           // freq_cis_real, freq_cis_imag
        h.vocabSize < 0 ? term(vocab, dim) : 0,       // wcls
    };
    uint64_t floats = 0;
    for (const uint64_t part : parts)
        floats = add(floats, part, source);
    return add(28, mul(floats, 4, source), source);
}

Checkpoint loadLlama2c(const std::filesystem::path& path, at::ScalarType floatType) {
    const std::string source = path.string();
    const MappedFile file = MappedFile::open(path);
    if (file.size() < 28)
        fail(source, "too small for a llama2.c header (" + std::to_string(file.size()) +
                         " bytes, need at least 28)");
    Llama2cHeader h;
    std::memcpy(&h, file.data(), 28);
    static_assert(sizeof(Llama2cHeader) == 28);
    const uint64_t expected = llama2cFileSize(h, source);
    if (file.size() != expected)
        fail(source, "file size " + std::to_string(file.size()) +
                         " bytes does not match its header (expected " + std::to_string(expected) +
                         " bytes for " + describe(h) + ")");

    Checkpoint ckpt;
    ckpt.source = path;
    ckpt.format = "llama2.c";
    ModelConfig& c = ckpt.config;
    c.modelType = "llama";
    c.hiddenSize = h.dim;
    c.intermediateSize = h.hiddenDim;
    c.numLayers = h.numLayers;
    c.numHeads = h.numHeads;
    c.numKvHeads = h.numKvHeads;
    c.headDim = h.dim / h.numHeads;
    c.vocabSize = std::abs(h.vocabSize);
    c.maxPositions = h.seqLen;
    c.rmsNormEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.tieWordEmbeddings = h.vocabSize > 0;
    c.bosTokenId = 1;
    c.eosTokenIds = {2};
    c.torchDtype = "float32";
    c.validate(source);

    const int64_t dim = c.hiddenSize, hidden = c.intermediateSize, layers = c.numLayers;
    const int64_t kvDim = c.numKvHeads * c.headDim;
    Reader in(file, floatType);
    // The file stores each kind of weight for all layers together, in this order.
    at::Tensor embed = in.next({c.vocabSize, dim});
    at::Tensor rmsAtt = in.next({layers, dim});
    at::Tensor wq = in.next({layers, dim, dim});
    at::Tensor wk = in.next({layers, kvDim, dim});
    at::Tensor wv = in.next({layers, kvDim, dim});
    at::Tensor wo = in.next({layers, dim, dim});
    at::Tensor rmsFfn = in.next({layers, dim});
    at::Tensor w1 = in.next({layers, hidden, dim});
    at::Tensor w2 = in.next({layers, dim, hidden});
    at::Tensor w3 = in.next({layers, hidden, dim});
    at::Tensor rmsFinal = in.next({dim});
    in.skip(uint64_t(h.seqLen) * uint64_t(c.headDim)); // freq_cis: recomputed from rope_theta

    auto& t = ckpt.tensors;
    t.push_back({"model.embed_tokens.weight", embed});
    // clone(): each layer's tensor owns its memory instead of viewing the all-layer block.
    for (int64_t i = 0; i < layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        t.push_back({p + "self_attn.q_proj.weight", toRotateHalf(wq[i], c.numHeads, c.headDim)});
        t.push_back({p + "self_attn.k_proj.weight", toRotateHalf(wk[i], c.numKvHeads, c.headDim)});
        t.push_back({p + "self_attn.v_proj.weight", wv[i].clone()});
        t.push_back({p + "self_attn.o_proj.weight", wo[i].clone()});
        t.push_back({p + "mlp.gate_proj.weight", w1[i].clone()});
        t.push_back({p + "mlp.up_proj.weight", w3[i].clone()});
        t.push_back({p + "mlp.down_proj.weight", w2[i].clone()});
        t.push_back({p + "input_layernorm.weight", rmsAtt[i].clone()});
        t.push_back({p + "post_attention_layernorm.weight", rmsFfn[i].clone()});
    }
    t.push_back({"model.norm.weight", rmsFinal});
    if (h.vocabSize < 0)
        t.push_back({"lm_head.weight", in.next({c.vocabSize, dim})});
    return ckpt;
}

} // namespace rs
