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

Checkpoint loadHfModelDir(const fs::path& dir, std::optional<at::ScalarType> floatType) {
    Checkpoint ckpt;
    ckpt.source = dir;
    ckpt.config = readModelConfig(dir / "config.json");

    // Like Transformers: a single model.safetensors wins over an index.
    std::vector<Source> sources;
    std::vector<SharedFile> shards; // each file once
    fs::path missingReport;         // the file a missing tensor is reported against
    std::error_code ec;
    if (const fs::path single = dir / "model.safetensors"; fs::exists(single, ec)) {
        shards.push_back(std::make_shared<const SafetensorsFile>(SafetensorsFile::open(single)));
        for (const auto& name : shards.back()->names())
            sources.push_back({name, shards.back()});
        missingReport = single;
        ckpt.format = "safetensors";
    } else if (const fs::path index = dir / "model.safetensors.index.json"; fs::exists(index, ec)) {
        sources = indexSources(index);
        for (const Source& s : sources)
            if (std::find(shards.begin(), shards.end(), s.file) == shards.end())
                shards.push_back(s.file);
        missingReport = index;
        ckpt.format = "safetensors (" + std::to_string(shards.size()) + " shards)";
    } else {
        fail(dir.string(), "no model.safetensors or model.safetensors.index.json");
    }

    std::unordered_map<std::string, SharedFile> where;
    for (const auto& s : sources)
        where.emplace(s.name, s.file);
    const std::vector<TensorSpec> specs = llamaTensorSpecs(ckpt.config);
    for (const auto& spec : specs) {
        const auto it = where.find(spec.name);
        if (it == where.end())
            fail(missingReport.string(), "missing tensor " + spec.name);
        const TensorInfo& info = it->second->info(spec.name);
        if (!isFloating(info.dtype))
            fail(it->second->path().string(), "tensor " + spec.name + " has dtype " +
                                                  std::string(dtypeName(info.dtype)) +
                                                  ", expected a floating-point type");
        if (info.shape != spec.shape)
            fail(it->second->path().string(), "tensor " + spec.name + " has shape " +
                                                  formatShape(info.shape) + ", expected " +
                                                  formatShape(spec.shape));
    }
    // A tied checkpoint may still carry lm_head.weight; it must then fit too.
    if (const auto it = where.find("lm_head.weight");
        it != where.end() && ckpt.config.tieWordEmbeddings) {
        const TensorInfo& info = it->second->info(it->first);
        const std::vector<int64_t> expected{ckpt.config.vocabSize, ckpt.config.hiddenSize};
        if (info.shape != expected)
            fail(it->second->path().string(), "tensor lm_head.weight has shape " +
                                                  formatShape(info.shape) + ", expected " +
                                                  formatShape(expected));
    }

    // Model order (embedding, layer by layer, head) whatever the files' order, then any extras.
    const auto take = [&](const std::string& name, const SharedFile& file) {
        if (floatType) {
            ckpt.tensors.push_back({name, file->tensor(name, floatType)});
        } else {
            ckpt.tensors.push_back({name, mappedTensor(file, name)});
            ckpt.mappedFiles.emplace(name, file);
        }
    };
    if (!floatType)
        ckpt.shards = shards;
    ckpt.tensors.reserve(sources.size());
    for (const auto& spec : specs) {
        const auto it = where.find(spec.name);
        take(spec.name, it->second);
        where.erase(it);
    }
    for (const auto& s : sources)
        if (where.count(s.name))
            take(s.name, s.file);
    return ckpt;
}

} // namespace rs
