// The GGUF export: model.gguf (llama.cpp's llama architecture and tokenizer, the decoder linears
// as W_c in llama.cpp's own block types where the compression produced them) and adapter.gguf
// (the low-rank factors as a llama.cpp LoRA adapter).
#include "export/source_model.h"
#include "export/writer_common.h"
#include "formats/ggml_pack.h"
#include "formats/gguf_model.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <cstring>
#include <map>

namespace rs {

namespace fs = std::filesystem;

namespace {

// A tensor of the model file as the writer produced it: encoded bytes, shape and type.
struct EncodedTensor {
    std::vector<int64_t> shape;
    gguf::TensorType type = gguf::TensorType::F32;
};

// ggml's LLAMA_FTYPE numbers for general.file_type: what most linears are stored as.
uint32_t fileTypeOf(gguf::TensorType type) {
    switch (type) {
    case gguf::TensorType::F32:
        return 0;
    case gguf::TensorType::F16:
        return 1;
    case gguf::TensorType::Q4_0:
        return 2;
    case gguf::TensorType::Q8_0:
        return 7;
    }
    return 0;
}

// llama.cpp's "llama" tokenizer needs SentencePiece's pieces and scores, which a tokenizer.json
// beside a tokenizer.model (Llama 2, Mistral, TinyLlama) does not carry: those files come first.
std::unique_ptr<Tokenizer> vocabularySource(const SourceModel& source) {
    std::error_code ec;
    if (fs::is_regular_file(source.dir / "tokenizer.model", ec))
        return loadSentencePieceModel(source.dir / "tokenizer.model");
    if (fs::is_regular_file(source.dir / "tokenizer.bin", ec))
        return loadLlama2cTokenizer(source.dir / "tokenizer.bin",
                                    static_cast<int32_t>(source.config.vocabSize));
    return loadTokenizerForModel(source.dir);
}

// llama.cpp sizes the vocabulary by its token list, which must match the embedding's rows: rows
// beyond the tokenizer's pieces (padded embeddings) get unused "[PAD<id>]" pieces, as llama.cpp's
// converter writes them.
void padVocabulary(Vocabulary& v, const SourceModel& source) {
    const auto rows = static_cast<size_t>(source.config.vocabSize);
    if (v.pieces.size() > rows)
        fail(source.dir.string(), "the tokenizer has " + std::to_string(v.pieces.size()) +
                                      " pieces but the embedding only " + std::to_string(rows) +
                                      " rows");
    for (size_t id = v.pieces.size(); id < rows; ++id) {
        v.pieces.push_back("[PAD" + std::to_string(id) + "]");
        if (!v.scores.empty())
            v.scores.push_back(0.0f);
        v.types.push_back(Vocabulary::PieceType::Unused);
    }
}

at::Tensor bytesTensor(std::vector<uint8_t> bytes, int64_t rows) {
    at::Tensor t = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
    std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    return t.reshape({rows, -1});
}

std::vector<uint8_t> bytesOf(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kCPU).contiguous();
    const auto* p = static_cast<const uint8_t*>(c.data_ptr());
    return {p, p + c.nbytes()};
}

class GgufWriter : public ExportWriter::Impl {
public:
    GgufWriter(fs::path dir, const ExportSettings& settings, const JobContext& job)
        : Impl(std::move(dir), settings, job) {
        const SourceModel& source = *this->settings.source;
        if (dtype != at::kFloat && dtype != at::kHalf)
            fail("--dtype",
                 "a GGUF export stores float32 or float16 tensors (llama.cpp's F32, F16), "
                 "not " +
                     this->settings.dtype);
        m_floatType = dtype == at::kFloat ? gguf::TensorType::F32 : gguf::TensorType::F16;
        gguf::requireLlamaArchitecture(source.config, (source.dir / "config.json").string());
        const auto tokenizer = vocabularySource(source);
        m_vocabulary = tokenizer->vocabulary();
        if (m_vocabulary)
            padVocabulary(*m_vocabulary, source);
        if (!m_vocabulary)
            fail(source.dir.string(), tokenizer->describe() +
                                          " is not a vocabulary llama.cpp reads: a GGUF export "
                                          "writes a llama2.c tokenizer.bin or a SentencePiece "
                                          "tokenizer.model as its \"llama\" tokenizer, and a "
                                          "byte-level BPE whose split rules it knows (GPT-2, "
                                          "Llama 3, Qwen2, SmolLM) as \"gpt2\"");
        m_bos = tokenizer->bosId() ? tokenizer->bosId() : source.config.bosTokenId;
        m_eos = tokenizer->eosId();
        if (!m_eos && !source.config.eosTokenIds.empty())
            m_eos = source.config.eosTokenIds.front();
        if (!m_bos || !m_eos)
            fail(source.dir.string(),
                 "the tokenizer names no BOS or EOS token, which llama.cpp needs");
    }

    void convert(const ExportLinear& l, std::vector<NamedTensor>& weights,
                 std::vector<NamedTensor>& adapter) override {
        const ModelConfig& config = settings.source->config;
        const std::string hfName = l.name + ".weight";
        if (!l.base.defined())
            fail(l.name, "has no dense weight; a GGUF export stores each linear's W_c in the model "
                         "and its factors in the LoRA adapter (export factor-only layers as "
                         "factorized)");
        const std::string name = ggufName(hfName);
        EncodedTensor encoded{l.base.sizes().vec(), m_floatType};
        std::vector<uint8_t> bytes = encode(l, encoded.type);
        weights.push_back({name, gguf::toLlamaCppRows(bytesTensor(std::move(bytes), l.base.size(0)),
                                                      hfName, config)});
        m_encoded[name] = encoded;
        ++m_linearTypes[encoded.type];
        written.linearBytes += weights.back().tensor.nbytes();
        written.linearWeights += l.base.numel();
        if (l.factors.rank() == 0)
            return;
        const at::Tensor a = l.factors.A.to(at::kCPU, at::kFloat).contiguous();
        const at::Tensor b =
            gguf::toLlamaCppRows(l.factors.B.to(at::kCPU, at::kFloat), hfName, config);
        adapter.push_back({gguf::loraTensorName(name, 'a'), a});
        adapter.push_back({gguf::loraTensorName(name, 'b'), b});
        written.linearBytes +=
            (a.numel() + b.numel()) * (m_floatType == gguf::TensorType::F32 ? 4 : 2);
        ++m_ranks[l.factors.rank()];
    }

    void writeModelWeights() override {
        job.cancel.throwIfCancelled();
        job.report("write", 0, 0, gguf::kModelFile);
        const SourceModel& source = *settings.source;
        std::map<std::string, const exportfiles::Spilled*> produced;
        for (const exportfiles::Spilled& s : weights)
            produced[s.name] = &s;
        // Every tensor in the source's order, a replaced linear where its weight was.
        struct Entry {
            gguf::TensorInfo info;
            std::string hfName;
            const exportfiles::Spilled* spilled = nullptr;
        };
        std::vector<Entry> entries;
        for (const NamedTensor& t : source.files.tensors) {
            if (t.name.ends_with("rotary_emb.inv_freq") ||
                (t.name == "lm_head.weight" && source.config.tieWordEmbeddings))
                continue; // recomputed by llama.cpp / the tied embedding serves as output
            const std::string name = ggufName(t.name);
            if (replaced().count(t.name)) {
                const EncodedTensor& e = m_encoded.at(name);
                entries.push_back({{name, e.shape, e.type}, t.name, produced.at(name)});
            } else {
                // Norms stay float32, as llama.cpp's converters keep every 1-D tensor.
                const auto type = t.tensor.dim() == 1 ? gguf::TensorType::F32 : m_floatType;
                entries.push_back({{name, t.tensor.sizes().vec(), type}, t.name, nullptr});
            }
        }
        std::vector<gguf::TensorInfo> infos;
        for (const Entry& e : entries)
            infos.push_back(e.info);
        std::vector<gguf::KeyValue> metadata =
            gguf::modelMetadata(source.config, settings.adapterBase, fileTypeOf(mostCommonType()));
        for (gguf::KeyValue& kv : gguf::vocabularyMetadata(*m_vocabulary, *m_bos, *m_eos))
            metadata.push_back(std::move(kv));
        gguf::write(dir / gguf::kModelFile, metadata, infos, [&](size_t index) {
            job.cancel.throwIfCancelled();
            const Entry& e = entries[index];
            if (e.spilled) {
                std::vector<uint8_t> bytes =
                    bytesOf(mappedTensor(e.spilled->file, e.spilled->name));
                e.spilled->file->releasePages(e.spilled->name);
                return bytes;
            }
            const at::Tensor values = gguf::toLlamaCppRows(
                source.files.read(e.hfName).to(at::kFloat), e.hfName, source.config);
            std::vector<uint8_t> bytes = encodeFloats(values, e.info.type, e.hfName);
            source.files.releasePages(e.hfName);
            return bytes;
        });
    }

    void finishFormat() override {
        exportfiles::writeJson(dir / "config.json", exportfiles::sourceConfig(*settings.source));
        if (m_offGridLinears > 0)
            written.runtimeNotes.push_back(
                std::to_string(m_offGridLinears) +
                " quantized linears are on a grid llama.cpp has no type for and are stored as " +
                gguf::typeName(m_floatType) +
                " (their dequantized values); compress with q8_0 or q4_0 to store llama.cpp's "
                "own blocks");
        if (!adapter.empty())
            writeAdapter();
    }

private:
    // W_c in llama.cpp's block type when its grid is one, else in the export's float type.
    std::vector<uint8_t> encode(const ExportLinear& l, gguf::TensorType& type) {
        if (l.grid) {
            if (const auto blocks = ggmlBlocksOf(*l.grid)) {
                type = ggufTypeOf(*blocks);
                return encodeBlocks(*l.grid, *blocks, l.name);
            }
            ++m_offGridLinears;
        }
        type = m_floatType;
        return encodeFloats(l.base, m_floatType, l.name);
    }

    std::string ggufName(const std::string& hfName) const {
        const auto name = gguf::tensorName(hfName);
        if (!name)
            fail(settings.source->dir.string(),
                 "tensor " + hfName + " has no place in llama.cpp's llama architecture");
        return *name;
    }

    gguf::TensorType mostCommonType() const {
        gguf::TensorType best = m_floatType;
        int64_t count = 0;
        for (const auto& [type, n] : m_linearTypes)
            if (n > count)
                best = type, count = n;
        return best;
    }

    // llama.cpp scales every pair by alpha / rank with one alpha: alpha is the most common rank
    // (those pairs are written as they are) and the B of every other rank r carries r / alpha.
    int64_t adapterAlpha() const {
        int64_t alpha = 0, count = 0;
        for (const auto& [rank, n] : m_ranks)
            if (n >= count)
                alpha = rank, count = n;
        return alpha;
    }

    void writeAdapter() {
        job.report("write", 0, 0, gguf::kAdapterFile);
        const int64_t alpha = adapterAlpha();
        if (m_ranks.size() > 1)
            written.runtimeNotes.push_back(
                "the adapter mixes ranks; llama.cpp scales each pair by alpha / rank with one "
                "alpha (" +
                std::to_string(alpha) +
                "), so the B of every pair of another rank r "
                "carries r / " +
                std::to_string(alpha) + "; load it at scale 1 (--lora)");
        std::vector<gguf::TensorInfo> infos;
        for (const exportfiles::Spilled& s : adapter)
            infos.push_back({s.name, s.file->info(s.name).shape, m_floatType});
        gguf::write(dir / gguf::kAdapterFile,
                    gguf::adapterMetadata(settings.adapterBase, static_cast<float>(alpha)), infos,
                    [&](size_t index) {
                        const exportfiles::Spilled& s = adapter[index];
                        at::Tensor t = mappedTensor(s.file, s.name);
                        if (s.name.ends_with(".lora_b") && t.size(1) != alpha)
                            t = t * (static_cast<double>(t.size(1)) / static_cast<double>(alpha));
                        return encodeFloats(t, m_floatType, s.name);
                    });
    }

    gguf::TensorType m_floatType = gguf::TensorType::F32;
    std::optional<Vocabulary> m_vocabulary;
    std::optional<int32_t> m_bos, m_eos;
    std::map<std::string, EncodedTensor> m_encoded; // by GGUF name
    std::map<gguf::TensorType, int64_t> m_linearTypes;
    std::map<int64_t, int64_t> m_ranks; // rank -> pairs
    int64_t m_offGridLinears = 0;
};

} // namespace

std::unique_ptr<ExportWriter::Impl> makeGgufWriter(fs::path dir, const ExportSettings& settings,
                                                   const JobContext& job) {
    return std::make_unique<GgufWriter>(std::move(dir), settings, job);
}

} // namespace rs
