#include "io/hfmodel.h"

#include "io/hfconfig.h"
#include "io/jsonerror.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/text.h"

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

namespace rs {

namespace {

namespace fs = std::filesystem;

using SharedFile = std::shared_ptr<const SafetensorsFile>;

// Where each tensor lives: the (shared) file it is in.
struct Source {
    std::string name;
    SharedFile file;
};

// Reads model.safetensors.index.json and opens every shard it names once.
std::vector<Source> indexSources(const fs::path& indexPath) {
    const std::string index = indexPath.string();
    nlohmann::json root;
    try {
        root = nlohmann::json::parse(readTextFile(indexPath));
    } catch (const nlohmann::json::exception& e) {
        fail(index, "not valid JSON (" + jsonErrorText(e) + ")");
    }
    if (!root.is_object() || !root.contains("weight_map") || !root["weight_map"].is_object())
        fail(index, "has no \"weight_map\" object");

    std::map<std::string, SharedFile> byShard;
    std::vector<Source> sources;
    for (const auto& [name, shardValue] : root["weight_map"].items()) {
        if (!shardValue.is_string())
            fail(index, "weight_map entry of '" + name + "' is not a file name");
        const std::string shard = shardValue.get<std::string>();
        // Shards must sit beside the index: never follow a path out of the model directory.
        if (shard.empty() || fs::path(shard).filename() != fs::path(shard) || shard == "." ||
            shard == "..")
            fail(index, "weight_map names '" + shard + "', which is not a file in the directory");
        auto it = byShard.find(shard);
        if (it == byShard.end()) {
            const fs::path shardPath = indexPath.parent_path() / shard;
            std::error_code ec;
            if (!fs::exists(shardPath, ec))
                fail(index, "missing shard " + shard + " (listed for tensor " + name + ")");
            it = byShard
                     .emplace(shard, std::make_shared<const SafetensorsFile>(
                                         SafetensorsFile::open(shardPath)))
                     .first;
        }
        if (!it->second->contains(name))
            fail(it->second->path().string(),
                 "missing tensor " + name + " (listed in model.safetensors.index.json)");
        sources.push_back({name, it->second});
    }
    if (sources.empty())
        fail(index, "weight_map is empty");
    return sources;
}

} // namespace

std::vector<TensorSpec> llamaTensorSpecs(const ModelConfig& c) {
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    const int64_t h = c.hiddenSize, ff = c.intermediateSize;
    std::vector<TensorSpec> specs;
    specs.push_back({"model.embed_tokens.weight", {c.vocabSize, h}});
    for (int64_t i = 0; i < c.numLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        specs.push_back({p + "self_attn.q_proj.weight", {q, h}});
        specs.push_back({p + "self_attn.k_proj.weight", {kv, h}});
        specs.push_back({p + "self_attn.v_proj.weight", {kv, h}});
        specs.push_back({p + "self_attn.o_proj.weight", {h, q}});
        if (c.attentionBias) {
            specs.push_back({p + "self_attn.q_proj.bias", {q}});
            specs.push_back({p + "self_attn.k_proj.bias", {kv}});
            specs.push_back({p + "self_attn.v_proj.bias", {kv}});
            if (c.modelType == "llama") // qwen2 has no o_proj bias; llama's flag covers it
                specs.push_back({p + "self_attn.o_proj.bias", {h}});
        }
        specs.push_back({p + "mlp.gate_proj.weight", {ff, h}});
        specs.push_back({p + "mlp.up_proj.weight", {ff, h}});
        specs.push_back({p + "mlp.down_proj.weight", {h, ff}});
        if (c.mlpBias) {
            specs.push_back({p + "mlp.gate_proj.bias", {ff}});
            specs.push_back({p + "mlp.up_proj.bias", {ff}});
            specs.push_back({p + "mlp.down_proj.bias", {h}});
        }
        specs.push_back({p + "input_layernorm.weight", {h}});
        specs.push_back({p + "post_attention_layernorm.weight", {h}});
    }
    specs.push_back({"model.norm.weight", {h}});
    if (!c.tieWordEmbeddings)
        specs.push_back({"lm_head.weight", {c.vocabSize, h}});
    return specs;
}

Checkpoint mapModelTensors(const fs::path& dir) {
    Checkpoint mapped;
    mapped.source = dir;
    // Like Transformers: a single model.safetensors wins over an index.
    std::vector<Source> sources;
    std::error_code ec;
    if (const fs::path single = dir / "model.safetensors"; fs::exists(single, ec)) {
        mapped.shards.push_back(
            std::make_shared<const SafetensorsFile>(SafetensorsFile::open(single)));
        for (const auto& name : mapped.shards.back()->names())
            sources.push_back({name, mapped.shards.back()});
        mapped.format = "safetensors";
    } else if (const fs::path index = dir / "model.safetensors.index.json"; fs::exists(index, ec)) {
        sources = indexSources(index);
        for (const Source& s : sources)
            if (std::find(mapped.shards.begin(), mapped.shards.end(), s.file) ==
                mapped.shards.end())
                mapped.shards.push_back(s.file);
        mapped.format = "safetensors (" + std::to_string(mapped.shards.size()) + " shards)";
    } else {
        fail(dir.string(), "no model.safetensors or model.safetensors.index.json");
    }
    mapped.tensors.reserve(sources.size());
    for (const Source& s : sources) {
        mapped.tensors.push_back({s.name, mappedTensor(s.file, s.name)});
        mapped.mappedFiles.emplace(s.name, s.file);
    }
    return mapped;
}

namespace {

// The file a missing tensor is reported against: the single file, or the index.
fs::path tensorListPath(const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir / "model.safetensors", ec) ? dir / "model.safetensors"
                                                     : dir / "model.safetensors.index.json";
}

void checkLlamaTensors(const Checkpoint& mapped, const fs::path& dir) {
    const auto fileOf = [&](const std::string& name) {
        return mapped.mappedFiles.at(name)->path().string();
    };
    for (const auto& spec : llamaTensorSpecs(mapped.config)) {
        const at::Tensor* t = mapped.find(spec.name);
        if (!t)
            fail(tensorListPath(dir).string(), "missing tensor " + spec.name);
        const TensorInfo& info = mapped.mappedFiles.at(spec.name)->info(spec.name);
        if (!isFloating(info.dtype))
            fail(fileOf(spec.name), "tensor " + spec.name + " has dtype " +
                                        std::string(dtypeName(info.dtype)) +
                                        ", expected a floating-point type");
        if (info.shape != spec.shape)
            fail(fileOf(spec.name), "tensor " + spec.name + " has shape " +
                                        formatShape(info.shape) + ", expected " +
                                        formatShape(spec.shape));
    }
    // A tied checkpoint may still carry lm_head.weight; it must then fit too.
    if (const at::Tensor* head = mapped.find("lm_head.weight");
        head && mapped.config.tieWordEmbeddings) {
        const std::vector<int64_t> expected{mapped.config.vocabSize, mapped.config.hiddenSize};
        if (head->sizes().vec() != expected)
            fail(fileOf("lm_head.weight"), "tensor lm_head.weight has shape " +
                                               formatShape(head->sizes()) + ", expected " +
                                               formatShape(expected));
    }
}

} // namespace

Checkpoint loadHfModelDir(const fs::path& dir, std::optional<at::ScalarType> floatType) {
    const ModelConfig config = readModelConfig(dir / "config.json");
    Checkpoint mapped = mapModelTensors(dir);
    mapped.config = config;
    checkLlamaTensors(mapped, dir);

    // Model order (embedding, layer by layer, head) whatever the files' order, then any extras.
    Checkpoint ckpt;
    ckpt.source = dir;
    ckpt.config = config;
    ckpt.format = mapped.format;
    std::unordered_map<std::string, at::Tensor> byName;
    for (NamedTensor& t : mapped.tensors)
        byName.emplace(t.name, std::move(t.tensor));
    std::vector<std::string> order;
    std::unordered_set<std::string> inModel;
    for (const auto& spec : llamaTensorSpecs(config)) {
        order.push_back(spec.name);
        inModel.insert(spec.name);
    }
    for (const NamedTensor& t : mapped.tensors)
        if (!inModel.count(t.name))
            order.push_back(t.name);
    ckpt.tensors.reserve(order.size());
    for (const std::string& name : order) {
        const SharedFile& file = mapped.mappedFiles.at(name);
        if (floatType) {
            ckpt.tensors.push_back({name, file->tensor(name, floatType)});
        } else {
            ckpt.tensors.push_back({name, byName.at(name)});
            ckpt.mappedFiles.emplace(name, file);
        }
    }
    if (!floatType)
        ckpt.shards = mapped.shards;
    return ckpt;
}

} // namespace rs
