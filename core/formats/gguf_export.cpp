#include "formats/gguf_export.h"

#include "formats/ggml_pack.h"
#include "formats/gguf_model.h"
#include "io/dtype.h"
#include "io/hfmodel.h"
#include "model/llama.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <map>
#include <memory>

namespace rs {

namespace fs = std::filesystem;

namespace {

using SharedGguf = std::shared_ptr<const gguf::File>;

template <typename T>
const T* valueOf(const gguf::File& file, const std::string& key, const fs::path& path) {
    const gguf::Value* v = file.find(key);
    if (!v)
        return nullptr;
    const T* typed = std::get_if<T>(v);
    if (!typed)
        fail(path.string(), "metadata " + key + " has the wrong type");
    return typed;
}

// The file must describe the model config.json describes, or it is not this export's.
void checkArchitecture(const gguf::File& file, const ModelConfig& config, const fs::path& path) {
    const std::string* arch = valueOf<std::string>(file, "general.architecture", path);
    if (!arch || *arch != gguf::kArchitecture)
        fail(path.string(), "is not a llama GGUF file (general.architecture is " +
                                (arch ? "'" + *arch + "'" : std::string("missing")) + ")");
    const std::pair<const char*, int64_t> expected[] = {
        {"llama.block_count", config.numLayers},
        {"llama.embedding_length", config.hiddenSize},
        {"llama.feed_forward_length", config.intermediateSize},
        {"llama.attention.head_count", config.numHeads},
        {"llama.attention.head_count_kv", config.numKvHeads}};
    for (const auto& [key, value] : expected) {
        const uint32_t* stored = valueOf<uint32_t>(file, key, path);
        if (!stored || *stored != value)
            fail(path.string(), std::string(key) + " is " +
                                    (stored ? std::to_string(*stored) : std::string("missing")) +
                                    ", but config.json says " + std::to_string(value));
    }
}

// llama.cpp refuses a file whose token list is not as long as the embedding has rows.
void checkVocabulary(const gguf::File& file, const ModelConfig& config, const fs::path& path) {
    const auto* tokens = valueOf<std::vector<std::string>>(file, "tokenizer.ggml.tokens", path);
    if (!tokens)
        fail(path.string(), "has no tokenizer (tokenizer.ggml.tokens)");
    if (static_cast<int64_t>(tokens->size()) != config.vocabSize)
        fail(path.string(), "has " + std::to_string(tokens->size()) +
                                " tokens, but its embedding has " +
                                std::to_string(config.vocabSize) + " rows");
}

std::map<std::string, size_t> indexOf(const gguf::File& file) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < file.tensors().size(); ++i)
        index[file.tensors()[i].name] = i;
    return index;
}

// The float32 values of tensor `index`, rows in Hugging Face's order.
std::function<at::Tensor()> decoded(const SharedGguf& file, size_t index, std::string hfName,
                                    const ModelConfig& config, double scale = 1.0) {
    return [file, index, hfName = std::move(hfName), config, scale] {
        const gguf::TensorInfo& info = file->tensors()[index];
        at::Tensor t = decodeTensor(file->data(index), info.type, info.shape, info.name);
        t = gguf::fromLlamaCppRows(t, hfName, config);
        return scale == 1.0 ? t : t * scale;
    };
}

void addDeferred(Checkpoint& ckpt, const std::string& name, const std::vector<int64_t>& shape,
                 std::function<at::Tensor()> compute) {
    ckpt.tensors.push_back({name, at::empty(shape, at::TensorOptions().device(at::kMeta))});
    ckpt.deferred[name] = {std::move(compute), {}};
}

void readModel(const fs::path& path, const SharedGguf& file, LoadedExport& out,
               std::map<std::string, std::string>& hfNames) {
    const ModelConfig& config = out.checkpoint.config;
    const auto index = indexOf(*file);
    std::map<std::string, int64_t> linearTypes;
    for (const TensorSpec& spec : llamaTensorSpecs(config)) {
        const auto name = gguf::tensorName(spec.name);
        const auto found = name ? index.find(*name) : index.end();
        if (found == index.end())
            fail(path.string(),
                 "missing tensor " + (name ? *name : spec.name) + " (" + spec.name + ")");
        const gguf::TensorInfo& info = file->tensors()[found->second];
        if (info.shape != spec.shape)
            fail(path.string(), "tensor " + info.name + " has shape " + formatShape(info.shape) +
                                    ", expected " + formatShape(spec.shape));
        addDeferred(out.checkpoint, spec.name, spec.shape,
                    decoded(file, found->second, spec.name, config));
        hfNames[*name] = spec.name;
        if (spec.name.starts_with("model.layers.") && spec.name.ends_with("_proj.weight")) {
            ++linearTypes[gguf::typeName(info.type)];
            const bool quantized =
                info.type == gguf::TensorType::Q8_0 || info.type == gguf::TensorType::Q4_0;
            ++(quantized ? out.summary.quantizedLayers : out.summary.denseLayers);
        }
    }
    if (hfNames.size() != file->tensors().size())
        for (const gguf::TensorInfo& t : file->tensors())
            if (!hfNames.count(t.name))
                fail(path.string(), "tensor " + t.name +
                                        " is not part of the model config.json "
                                        "describes (llama.cpp refuses it)");
    int64_t most = 0;
    for (const auto& [type, count] : linearTypes)
        if (count > most)
            out.summary.ggufBaseType = type, most = count;
}

void readAdapter(const fs::path& path, const std::map<std::string, std::string>& hfNames,
                 LoadedExport& out) {
    const auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
    const std::string* type = valueOf<std::string>(*file, "adapter.type", path);
    const std::string* arch = valueOf<std::string>(*file, "general.architecture", path);
    if (!type || *type != "lora" || !arch || *arch != gguf::kArchitecture)
        fail(path.string(), "is not a LoRA adapter for the llama architecture (adapter.type "
                            "\"lora\", general.architecture \"llama\")");
    const float* alphaValue = valueOf<float>(*file, "adapter.lora.alpha", path);
    const double alpha = alphaValue ? *alphaValue : 0.0;
    const auto index = indexOf(*file);
    const ModelConfig& config = out.checkpoint.config;
    for (const auto& [name, i] : index) {
        const bool isA = name.ends_with(".lora_a"), isB = name.ends_with(".lora_b");
        if (!isA && !isB)
            fail(path.string(), "tensor " + name + " is neither a lora_a nor a lora_b");
        const std::string partner = name.substr(0, name.size() - 1) + (isA ? "b" : "a");
        if (!index.count(partner))
            fail(path.string(), "has " + name + " but no " + partner);
    }
    for (const auto& [name, a] : index) {
        if (!name.ends_with(".lora_a"))
            continue;
        const std::string base = name.substr(0, name.size() - std::string(".lora_a").size());
        const auto hfName = hfNames.find(base);
        const auto b = index.find(gguf::loraTensorName(base, 'b'));
        if (hfName == hfNames.end() || !hfName->second.ends_with("_proj.weight"))
            fail(path.string(), "tensor " + name + " names no linear of the model");
        if (b == index.end())
            fail(path.string(), "has " + name + " but no " + gguf::loraTensorName(base, 'b'));
        const auto& shapeA = file->tensors()[a].shape;
        const auto& shapeB = file->tensors()[b->second].shape;
        const at::Tensor* weight = out.checkpoint.find(hfName->second);
        if (shapeA.size() != 2 || shapeB.size() != 2 || shapeA[0] != shapeB[1] ||
            shapeA[1] != weight->size(1) || shapeB[0] != weight->size(0))
            fail(path.string(), "the LoRA pair of " + base + " (a " + formatShape(shapeA) + ", b " +
                                    formatShape(shapeB) + ") does not fit its weight " +
                                    formatShape(weight->sizes()));
        const int64_t rank = shapeA[0];
        const std::string linear =
            hfName->second.substr(0, hfName->second.size() - std::string(".weight").size());
        addDeferred(out.checkpoint, lowRankTensorName(linear, 0), shapeA,
                    decoded(file, a, linear + ".lora_a", config));
        addDeferred(out.checkpoint, lowRankTensorName(linear, 1), shapeB,
                    decoded(file, b->second, hfName->second, config,
                            alpha != 0.0 ? alpha / static_cast<double>(rank) : 1.0));
        ++out.summary.lowRankLayers;
    }
}

} // namespace

LoadedExport loadGgufExport(const fs::path& dir, const ModelConfig& config) {
    const fs::path path = dir / gguf::kModelFile;
    const auto file = std::make_shared<const gguf::File>(gguf::File::open(path));
    checkArchitecture(*file, config, path);
    checkVocabulary(*file, config, path);
    LoadedExport out;
    out.summary.format = ExportFormat::Gguf;
    out.checkpoint.source = dir;
    out.checkpoint.config = config;
    std::map<std::string, std::string> hfNames; // GGUF name -> Hugging Face name
    readModel(path, file, out, hfNames);
    std::error_code ec;
    if (fs::exists(dir / gguf::kAdapterFile, ec))
        readAdapter(dir / gguf::kAdapterFile, hfNames, out);
    return out;
}

} // namespace rs
