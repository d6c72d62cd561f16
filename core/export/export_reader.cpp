#include "export/export_reader.h"

#include "export/gptq_pack.h"
#include "export/source_model.h"
#include "io/dtype.h"
#include "io/hfconfig.h"
#include "io/hfmodel.h"
#include "io/safetensors.h"
#include "model/llama.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace rs {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json readJson(const fs::path& path) {
    try {
        return json::parse(readTextFile(path));
    } catch (const json::exception& e) {
        fail(path.string(), std::string("not valid JSON: ") + e.what());
    }
}

using TensorMap = std::unordered_map<std::string, at::Tensor>;

TensorMap tensorMap(const fs::path& dir) {
    TensorMap map;
    for (NamedTensor& t : readModelTensors(dir))
        map.emplace(t.name, std::move(t.tensor));
    return map;
}

const at::Tensor& need(const TensorMap& map, const std::string& name, const fs::path& where) {
    const auto it = map.find(name);
    if (it == map.end())
        fail(where.string(), "missing tensor " + name);
    return it->second;
}

void expectShape(const at::Tensor& t, std::vector<int64_t> shape, const std::string& name,
                 const fs::path& where) {
    if (t.sizes().vec() != shape)
        fail(where.string(), "tensor " + name + " has shape " + formatShape(t.sizes()) +
                                 ", expected " + formatShape(shape));
}

// The PEFT adapter in dir/adapter, scale folded into B.
void readAdapter(const fs::path& dir, LoadedExport& out) {
    const fs::path configPath = dir / "adapter_config.json";
    std::error_code ec;
    if (!fs::exists(configPath, ec))
        return;
    const json config = readJson(configPath);
    if (config.value("peft_type", "") != "LORA" || config.value("use_rslora", false) ||
        config.value("use_dora", false))
        fail(configPath.string(), "is not a plain LoRA adapter (peft_type LORA, no rsLoRA/DoRA)");
    const double r = config.at("r").get<double>(), alpha = config.at("lora_alpha").get<double>();
    const json ranks = config.value("rank_pattern", json::object());
    const json alphas = config.value("alpha_pattern", json::object());
    const fs::path weights = dir / "adapter_model.safetensors";
    const SafetensorsFile file = SafetensorsFile::open(weights);
    for (const std::string& key : file.names()) {
        const std::string prefix = "base_model.model.", suffix = ".lora_A.weight";
        if (key.size() <= suffix.size() ||
            key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        if (key.rfind(prefix, 0) != 0)
            fail(weights.string(), "tensor " + key + " does not start with " + prefix);
        const std::string linear =
            key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
        const at::Tensor* base = out.checkpoint.find(linear + ".weight");
        if (!base)
            fail(weights.string(), "tensor " + key + " names no linear of the model");
        const at::Tensor a = file.tensor(key, at::kFloat);
        const at::Tensor b = file.tensor(loraTensorName(linear, 'B'), at::kFloat);
        const int64_t rank = a.size(0);
        expectShape(a, {rank, base->size(1)}, key, weights);
        expectShape(b, {base->size(0), rank}, loraTensorName(linear, 'B'), weights);
        const double moduleRank = ranks.contains(linear) ? ranks[linear].get<double>() : r;
        const double moduleAlpha = alphas.contains(linear) ? alphas[linear].get<double>() : alpha;
        if (moduleRank != static_cast<double>(rank))
            fail(configPath.string(), "rank of " + linear + " disagrees with its tensors");
        out.lowRank[linear] = {b * (moduleAlpha / moduleRank), a};
    }
}

Checkpoint denseCheckpoint(const fs::path& dir, const ModelConfig& config, TensorMap& tensors,
                           const std::function<at::Tensor(const std::string& linear)>& weightOf) {
    Checkpoint ckpt;
    ckpt.source = dir;
    ckpt.config = config;
    for (const TensorSpec& spec : llamaTensorSpecs(config)) {
        at::Tensor t;
        const auto it = tensors.find(spec.name);
        if (it != tensors.end())
            t = it->second.to(at::kFloat);
        else if (spec.name.size() > 7 && spec.name.ends_with(".weight"))
            t = weightOf(spec.name.substr(0, spec.name.size() - 7));
        if (!t.defined())
            fail((dir / "model.safetensors").string(), "missing tensor " + spec.name);
        expectShape(t, spec.shape, spec.name, dir);
        ckpt.tensors.push_back({spec.name, t});
    }
    return ckpt;
}

LoadedExport loadGptq(const fs::path& dir, const ModelConfig& config, const json& q) {
    const int bits = q.at("bits").get<int>();
    if (q.value("checkpoint_format", "gptq") != "gptq")
        fail((dir / "config.json").string(), "only the GPTQ v1 (\"gptq\") checkpoint format");
    TensorMap tensors = tensorMap(dir);
    LoadedExport out;
    out.format = ExportFormat::GptqPeft;
    out.checkpoint = denseCheckpoint(dir, config, tensors, [&](const std::string& linear) {
        if (!tensors.count(linear + ".qweight"))
            return at::Tensor();
        const GptqTensors t{
            need(tensors, linear + ".qweight", dir), need(tensors, linear + ".qzeros", dir),
            need(tensors, linear + ".scales", dir), need(tensors, linear + ".g_idx", dir)};
        return dequantizeGptq(t, bits, (dir / "model.safetensors").string() + ": " + linear);
    });
    readAdapter(dir / kAdapterDir, out);
    return out;
}

LoadedExport loadFactorized(const fs::path& dir, const ModelConfig& config, const json& f) {
    TensorMap tensors = tensorMap(dir);
    const json ranks = f.value("ranks", json::object());
    LoadedExport out;
    out.format = ExportFormat::Factorized;
    for (const auto& [linear, rank] : ranks.items()) {
        const at::Tensor a = need(tensors, factorTensorName(linear, 0), dir).to(at::kFloat);
        const at::Tensor b = need(tensors, factorTensorName(linear, 1), dir).to(at::kFloat);
        if (a.dim() != 2 || b.dim() != 2 || a.size(0) != rank.get<int64_t>() ||
            b.size(1) != a.size(0))
            fail(dir.string(), "factors of " + linear + " do not have rank " + rank.dump());
        out.lowRank[linear] = {b, a};
    }
    out.checkpoint = denseCheckpoint(dir, config, tensors, [&](const std::string& linear) {
        const auto it = out.lowRank.find(linear);
        return it == out.lowRank.end()
                   ? at::Tensor()
                   : at::zeros({it->second.B.size(0), it->second.A.size(1)}); // factors alone
    });
    for (const auto& [linear, factors] : out.lowRank) {
        const at::Tensor& w = out.checkpoint.require(linear + ".weight");
        expectShape(factors.A, {factors.rank(), w.size(1)}, factorTensorName(linear, 0), dir);
        expectShape(factors.B, {w.size(0), factors.rank()}, factorTensorName(linear, 1), dir);
    }
    return out;
}

} // namespace

LoadedExport loadExport(const fs::path& dir) {
    const json config = readJson(dir / "config.json");
    const ModelConfig modelConfig = readModelConfig(dir / "config.json");
    if (config.contains("quantization_config")) {
        const json& q = config["quantization_config"];
        if (q.value("quant_method", "") != "gptq")
            fail((dir / "config.json").string(),
                 "quantization method '" + q.value("quant_method", "") + "' is not supported");
        return loadGptq(dir, modelConfig, q);
    }
    if (config.contains(kFactorizationField))
        return loadFactorized(dir, modelConfig, config[kFactorizationField]);
    LoadedExport out;
    out.checkpoint = loadCheckpoint(dir, "float32");
    return out;
}

PerplexityResult evaluateExport(const fs::path& dir, const fs::path& text,
                                const EvalOptions& options, const JobContext& job) {
    c10::InferenceMode inference;
    const LoadedExport loaded = loadExport(dir);
    LlamaModel model(loaded.checkpoint);
    for (const auto& [name, factors] : loaded.lowRank) {
        bool installed = false;
        for (int64_t layer = 0; layer < model.numLayers() && !installed; ++layer)
            for (LinearKind kind : kAllLinearKinds)
                if (linearName(layer, kind) == name) {
                    Linear& linear = model.layer(layer).linear(kind);
                    linear.loraA = factors.A.contiguous();
                    linear.loraB = factors.B.contiguous();
                    installed = true;
                    break;
                }
        if (!installed)
            fail(dir.string(), "low-rank factors for " + name + ", which is no decoder linear");
    }
    const std::unique_ptr<Tokenizer> tokenizer = loadTokenizerForModel(dir);
    const std::string content = readTextFile(text);
    TokenStream stream = buildTokenStream(
        content, options.protocol ? *options.protocol : detectProtocol(content), *tokenizer);
    stream.source = text.string();
    return evaluatePerplexity(model, stream, options, job);
}

} // namespace rs
