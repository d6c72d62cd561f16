#include "model/synthetic.h"

#include "io/atomicfile.h"
#include "io/dtype.h"
#include "io/hfmodel.h"
#include "io/safetensorswriter.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>

namespace rs {

namespace {

namespace fs = std::filesystem;

nlohmann::json configJson(const ModelConfig& c, const std::string& dtype) {
    return {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", c.modelType},
            {"hidden_size", c.hiddenSize},
            {"intermediate_size", c.intermediateSize},
            {"num_hidden_layers", c.numLayers},
            {"num_attention_heads", c.numHeads},
            {"num_key_value_heads", c.numKvHeads},
            {"head_dim", c.headDim},
            {"vocab_size", c.vocabSize},
            {"max_position_embeddings", c.maxPositions},
            {"rms_norm_eps", c.rmsNormEps},
            {"rope_theta", c.ropeTheta},
            {"tie_word_embeddings", c.tieWordEmbeddings},
            {"attention_bias", c.attentionBias},
            {"bos_token_id", c.bosTokenId.value_or(1)},
            {"eos_token_id", c.eosTokenIds.empty() ? 2 : c.eosTokenIds.front()},
            {"torch_dtype", dtype}};
}

ModelConfig tinyllamaConfig() {
    ModelConfig c;
    c.hiddenSize = 2048;
    c.intermediateSize = 5632;
    c.numLayers = 22;
    c.numHeads = 32;
    c.numKvHeads = 4;
    c.headDim = 64;
    c.vocabSize = 32000;
    c.maxPositions = 2048;
    c.rmsNormEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.tieWordEmbeddings = false;
    c.bosTokenId = 1;
    c.eosTokenIds = {2};
    return c;
}

ModelConfig llama3_8bConfig() {
    ModelConfig c;
    c.hiddenSize = 4096;
    c.intermediateSize = 14336;
    c.numLayers = 32;
    c.numHeads = 32;
    c.numKvHeads = 8;
    c.headDim = 128;
    c.vocabSize = 128256;
    c.maxPositions = 8192;
    c.rmsNormEps = 1e-5;
    c.ropeTheta = 500000.0;
    c.tieWordEmbeddings = false;
    c.bosTokenId = 128000;
    c.eosTokenIds = {128001};
    return c;
}

struct NamedShape {
    const char* name;
    ModelConfig (*config)();
};

constexpr NamedShape kShapes[] = {{"tinyllama-1.1b", tinyllamaConfig},
                                  {"llama3-8b", llama3_8bConfig}};

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// FNV-1a: a hash of the tensor name that, unlike std::hash, is the same in every build.
uint64_t nameHash(std::string_view name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char ch : name)
        h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ull;
    return h;
}

// Fixed-size chunks, each with its own generator: the values do not depend on the thread count,
// and the float32 scratch of the rounded types stays at 16 MiB per thread.
constexpr int64_t kChunkElements = int64_t(1) << 22;

at::Tensor randomWeight(const TensorPlan& plan, uint64_t seed) {
    at::Tensor out = at::empty(plan.shape, at::TensorOptions().dtype(toScalarType(plan.dtype)));
    at::Tensor flat = out.view({-1});
    const int64_t n = flat.numel();
    const uint64_t stream = splitmix64(seed ^ nameHash(plan.name));
    at::parallel_for(0, (n + kChunkElements - 1) / kChunkElements, 1, [&](int64_t b, int64_t e) {
        for (int64_t chunk = b; chunk < e; ++chunk) {
            auto generator = at::make_generator<at::CPUGeneratorImpl>(
                splitmix64(stream + static_cast<uint64_t>(chunk)));
            const int64_t begin = chunk * kChunkElements;
            at::Tensor part = flat.narrow(0, begin, std::min(kChunkElements, n - begin));
            if (part.scalar_type() == at::kFloat)
                part.normal_(0.0, 0.02, generator);
            else // drawn in float32 and rounded, so every dtype holds the same weights
                part.copy_(at::empty({part.numel()}, at::kFloat).normal_(0.0, 0.02, generator));
        }
    });
    return out;
}

bool isNorm(const std::string& name) {
    constexpr std::string_view suffix = "norm.weight";
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string readFileBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof())
        fail(path.string(), "cannot be read");
    return bytes;
}

struct TokenizerCopy {
    std::vector<fs::path> files;
    std::vector<std::string> skipped;
};

// Decided (and every tokenizer file read) before any weight is written, so that a bad tokenizer
// fails in a second rather than after gigabytes.
TokenizerCopy planTokenizerCopy(const fs::path& from, int64_t vocab) {
    TokenizerCopy copy;
    if (from.empty())
        return copy;
    std::error_code ec;
    if (!fs::is_directory(from, ec))
        fail(from.string(), "is not a directory");
    bool found = false;
    for (const char* name : {"tokenizer.model", "tokenizer.bin"}) {
        const fs::path file = from / name;
        if (!fs::is_regular_file(file, ec))
            continue;
        found = true;
        const int64_t size = loadTokenizerFile(file)->vocabSize();
        const bool exact = std::string_view(name) == "tokenizer.bin";
        if (exact ? size == vocab : size <= vocab)
            copy.files.push_back(file);
        else
            copy.skipped.push_back(std::string(name) + " (" + std::to_string(size) +
                                   " tokens, the model has " + std::to_string(vocab) + ")");
    }
    if (!found)
        fail(from.string(), "has no tokenizer.model or tokenizer.bin");
    return copy;
}

// What an earlier checkpoint left in the directory: a stale model.safetensors would win over the
// new index, and stale shards would be listed by nothing.
void removeCheckpointFiles(const fs::path& dir) {
    static const std::regex shard(R"(model-\d{5}-of-\d{5}\.safetensors)");
    std::vector<fs::path> stale{dir / "config.json", dir / "model.safetensors",
                                dir / "model.safetensors.index.json"};
    for (const auto& entry : fs::directory_iterator(dir))
        if (std::regex_match(entry.path().filename().string(), shard))
            stale.push_back(entry.path());
    for (const auto& path : stale) {
        std::error_code ec;
        fs::remove(path, ec);
        if (ec)
            fail(path.string(), "cannot remove the earlier file (" + ec.message() + ")");
    }
}

} // namespace

void writeRandomLlama(const std::filesystem::path& dir, const ModelConfig& c, uint64_t seed) {
    c.validate("synthetic model");
    std::filesystem::create_directories(dir);
    at::manual_seed(seed);
    std::vector<NamedTensor> tensors;
    const auto normal = [](std::vector<int64_t> shape) { return at::randn(shape) * 0.02; };
    tensors.push_back({"model.embed_tokens.weight", normal({c.vocabSize, c.hiddenSize})});
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        tensors.push_back({p + "input_layernorm.weight", at::ones({c.hiddenSize})});
        tensors.push_back({p + "post_attention_layernorm.weight", at::ones({c.hiddenSize})});
        const int64_t shapes[7][2] = {{q, c.hiddenSize},
                                      {kv, c.hiddenSize},
                                      {kv, c.hiddenSize},
                                      {c.hiddenSize, q},
                                      {c.intermediateSize, c.hiddenSize},
                                      {c.intermediateSize, c.hiddenSize},
                                      {c.hiddenSize, c.intermediateSize}};
        for (size_t k = 0; k < kAllLinearKinds.size(); ++k) {
            const std::string name = linearName(l, kAllLinearKinds[k]);
            tensors.push_back({name + ".weight", normal({shapes[k][0], shapes[k][1]})});
            if (c.attentionBias && k < 3)
                tensors.push_back({name + ".bias", normal({shapes[k][0]})});
        }
    }
    tensors.push_back({"model.norm.weight", at::ones({c.hiddenSize})});
    if (!c.tieWordEmbeddings)
        tensors.push_back({"lm_head.weight", normal({c.vocabSize, c.hiddenSize})});
    writeSafetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
    writeFileAtomically(dir / "config.json", configJson(c, "float32").dump(2));
}

ModelConfig llama125mConfig() {
    ModelConfig c;
    c.hiddenSize = 768;
    c.intermediateSize = 2560;
    c.numLayers = 12;
    c.numHeads = 12;
    c.numKvHeads = 12;
    c.headDim = 64;
    c.vocabSize = 32000;
    c.maxPositions = 2048;
    c.rmsNormEps = 1e-5;
    c.tieWordEmbeddings = true;
    c.bosTokenId = 1;
    c.eosTokenIds = {2};
    return c;
}

std::vector<std::string> scaleModelShapes() {
    std::vector<std::string> names;
    for (const auto& s : kShapes)
        names.emplace_back(s.name);
    return names;
}

ModelConfig scaleModelConfig(const std::string& shape) {
    std::string known;
    for (const auto& s : kShapes) {
        if (shape == s.name)
            return s.config();
        known += (known.empty() ? "" : ", ") + std::string(s.name);
    }
    fail(shape, "unknown model shape (known: " + known + ")");
}

ScaleModelResult writeScaleModel(const std::filesystem::path& dir, const ModelConfig& shape,
                                 const ScaleModelOptions& options) {
    const auto type = parseFloatDtype(options.dtype);
    if (!type)
        fail("dtype", "'" + options.dtype + "' is not float32, bfloat16 or float16");
    ModelConfig c = shape;
    if (options.blocks) {
        if (*options.blocks < 1 || *options.blocks > shape.numLayers)
            fail("blocks", std::to_string(*options.blocks) + " is not between 1 and the shape's " +
                               std::to_string(shape.numLayers));
        c.numLayers = *options.blocks;
    }
    if (options.vocab) {
        if (*options.vocab < 3)
            fail("vocab",
                 std::to_string(*options.vocab) + " is too small (<unk>, BOS and EOS need 3 ids)");
        c.vocabSize = *options.vocab;
        // A shrunk vocabulary may not hold the shape's ids; fall back to Llama 2's.
        if (c.bosTokenId && *c.bosTokenId >= c.vocabSize)
            c.bosTokenId = 1;
        for (int32_t& id : c.eosTokenIds)
            if (id >= c.vocabSize)
                id = 2;
    }
    c.torchDtype = options.dtype;
    c.validate(dir.string());
    if (options.maxShardBytes == 0)
        fail("shard size", "must be positive");
    const TokenizerCopy tokenizer = planTokenizerCopy(options.tokenizerDir, c.vocabSize);

    ScaleModelResult result;
    result.config = c;
    result.skipped = tokenizer.skipped;
    std::vector<TensorPlan> plans;
    const DType dtype = *fromScalarType(*type);
    for (const TensorSpec& spec : llamaTensorSpecs(c)) {
        plans.push_back({spec.name, dtype, spec.shape});
        result.tensorBytes += plans.back().byteSize();
        result.parameters += static_cast<int64_t>(plans.back().byteSize() / dtypeSize(dtype));
    }
    const TensorProducer produce = [&](size_t i) {
        return isNorm(plans[i].name) ? at::ones(plans[i].shape, *type)
                                     : randomWeight(plans[i], options.seed);
    };

    fs::create_directories(dir);
    removeCheckpointFiles(dir);
    const std::map<std::string, std::string> metadata{{"format", "pt"}};
    std::vector<std::string> written;
    if (result.tensorBytes <= options.maxShardBytes) {
        writeSafetensorsStreamed(dir / "model.safetensors", plans, produce, metadata);
        written.push_back("model.safetensors");
    } else {
        written =
            writeShardedSafetensorsStreamed(dir, plans, produce, options.maxShardBytes, metadata);
        written.push_back("model.safetensors.index.json");
    }
    for (const fs::path& file : tokenizer.files) {
        writeFileAtomically(dir / file.filename(), readFileBytes(file));
        written.push_back(file.filename().string());
    }
    writeFileAtomically(dir / "config.json", configJson(c, options.dtype).dump(2) + "\n");
    written.push_back("config.json");
    for (const std::string& name : written)
        result.files.emplace_back(name, fs::file_size(dir / name));
    return result;
}

} // namespace rs
