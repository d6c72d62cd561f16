#include "formats/export_reader.h"

#include "formats/gptq_pack.h"
#include "formats/model_tensors.h"
#include "io/dtype.h"
#include "io/hfconfig.h"
#include "io/hfmodel.h"
#include "io/jsonerror.h"
#include "io/safetensors.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <functional>
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
        fail(path.string(), "not valid JSON (" + jsonErrorText(e) + ")");
    }
}

// Runs `read` on fields of the JSON file at `path`; a missing field or one of the wrong type
// becomes an error naming the file.
template <typename F> auto readFields(const fs::path& path, F read) {
    try {
        return read();
    } catch (const json::exception& e) {
        fail(path.string(), jsonErrorText(e));
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

// A low-rank pair must fit the base linear it is added to: A [r, d_in], B [d_out, r].
void expectPairFits(const LowRankFactors& f, const at::Tensor& base, const std::string& linear,
                    const fs::path& where) {
    if (f.A.dim() != 2 || f.B.dim() != 2 || f.B.size(1) != f.A.size(0) ||
        f.A.size(1) != base.size(1) || f.B.size(0) != base.size(0))
        fail(where.string(), "the low-rank pair of " + linear + " (A " + formatShape(f.A.sizes()) +
                                 ", B " + formatShape(f.B.sizes()) +
                                 ") does not fit its base weight " + formatShape(base.sizes()) +
                                 " (expected A [r, d_in] and B [d_out, r])");
}

// The PEFT adapter in dir/adapter, scale folded into B.
void readAdapter(const fs::path& dir, LoadedExport& out) {
    const fs::path configPath = dir / "adapter_config.json";
    std::error_code ec;
    if (!fs::exists(configPath, ec))
        return;
    const json config = readJson(configPath);
    struct Scales {
        double r, alpha;
        json ranks, alphas;
    };
    const Scales scales = readFields(configPath, [&] {
        if (config.value("peft_type", "") != "LORA" || config.value("use_rslora", false) ||
            config.value("use_dora", false))
            fail(configPath.string(),
                 "is not a plain LoRA adapter (peft_type LORA, no rsLoRA/DoRA)");
        return Scales{config.at("r").get<double>(), config.at("lora_alpha").get<double>(),
                      config.value("rank_pattern", json::object()),
                      config.value("alpha_pattern", json::object())};
    });
    if (!(scales.r > 0))
        fail(configPath.string(), "r must be positive");
    out.summary.rank = static_cast<int64_t>(scales.r);
    const fs::path weights = dir / "adapter_model.safetensors";
    const SafetensorsFile file = SafetensorsFile::open(weights);
    for (const std::string& key : file.names()) {
        const std::string prefix = "base_model.model.", suffix = ".lora_A.weight";
        if (!key.ends_with(suffix))
            continue;
        if (!key.starts_with(prefix))
            fail(weights.string(), "tensor " + key + " does not start with " + prefix);
        const std::string linear =
            key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
        const at::Tensor* base = out.checkpoint.find(linear + ".weight");
        if (!base)
            fail(weights.string(), "tensor " + key + " names no linear of the model");
        const std::string keyB = loraTensorName(linear, 'B');
        if (!file.contains(keyB))
            fail(weights.string(), "has " + key + " but no " + keyB);
        LowRankFactors f{file.tensor(keyB, at::kFloat), file.tensor(key, at::kFloat)};
        expectPairFits(f, *base, linear, weights);
        const double moduleRank = readFields(configPath, [&] {
            return scales.ranks.contains(linear) ? scales.ranks[linear].get<double>() : scales.r;
        });
        const double moduleAlpha = readFields(configPath, [&] {
            return scales.alphas.contains(linear) ? scales.alphas[linear].get<double>()
                                                  : scales.alpha;
        });
        if (moduleRank != static_cast<double>(f.rank()))
            fail(configPath.string(), "rank of " + linear + " is " +
                                          std::to_string(static_cast<int64_t>(moduleRank)) +
                                          ", but its tensors in " + weights.string() +
                                          " have rank " + std::to_string(f.rank()));
        f.B = f.B * (moduleAlpha / moduleRank);
        out.lowRank[linear] = std::move(f);
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

bool unpackableBits(int bits) {
    return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

LoadedExport loadGptq(const fs::path& dir, const ModelConfig& config, const json& q) {
    const fs::path configPath = dir / "config.json";
    LoadedExport out;
    out.summary.format = ExportFormat::GptqPeft;
    readFields(configPath, [&] {
        out.summary.bits = q.at("bits").get<int>();
        out.summary.groupSize = q.value("group_size", int64_t(-1));
        out.summary.descAct = q.value("desc_act", false);
        if (q.value("checkpoint_format", "gptq") != "gptq")
            fail(configPath.string(), "GPTQ checkpoint_format '" +
                                          q.value("checkpoint_format", "") +
                                          "' is not supported (only the v1 \"gptq\" format)");
        return 0;
    });
    const int bits = out.summary.bits;
    if (!unpackableBits(bits))
        fail(configPath.string(), "quantization_config has bits = " + std::to_string(bits) +
                                      ", which the GPTQ reader cannot unpack (2, 3, 4 or 8)");
    TensorMap tensors = tensorMap(dir);
    out.checkpoint = denseCheckpoint(dir, config, tensors, [&](const std::string& linear) {
        if (!tensors.count(linear + ".qweight"))
            return at::Tensor();
        const GptqTensors t{
            need(tensors, linear + ".qweight", dir), need(tensors, linear + ".qzeros", dir),
            need(tensors, linear + ".scales", dir), need(tensors, linear + ".g_idx", dir)};
        ++out.summary.quantizedLayers;
        return dequantizeGptq(t, bits, (dir / "model.safetensors").string() + ": " + linear);
    });
    if (out.summary.quantizedLayers == 0)
        fail((dir / "model.safetensors").string(),
             "config.json declares a GPTQ model, but no linear has a qweight tensor");
    for (const TensorSpec& spec : llamaTensorSpecs(config))
        if (spec.name.starts_with("model.layers.") && spec.name.ends_with("_proj.weight"))
            ++out.summary.denseLayers;
    out.summary.denseLayers -= out.summary.quantizedLayers;
    readAdapter(dir / kAdapterDir, out);
    return out;
}

LoadedExport loadFactorized(const fs::path& dir, const ModelConfig& config, const json& f) {
    const fs::path configPath = dir / "config.json";
    const std::map<std::string, int64_t> ranks = readFields(configPath, [&] {
        return f.value("ranks", json::object()).get<std::map<std::string, int64_t>>();
    });
    TensorMap tensors = tensorMap(dir);
    LoadedExport out;
    out.summary.format = ExportFormat::Factorized;
    for (const auto& [linear, rank] : ranks) {
        const at::Tensor a = need(tensors, factorTensorName(linear, 0), dir).to(at::kFloat);
        const at::Tensor b = need(tensors, factorTensorName(linear, 1), dir).to(at::kFloat);
        if (a.dim() != 2 || b.dim() != 2 || a.size(0) != rank || b.size(1) != a.size(0))
            fail(dir.string(), "factors of " + linear + " (A " + formatShape(a.sizes()) + ", B " +
                                   formatShape(b.sizes()) + ") do not have rank " +
                                   std::to_string(rank) + " as config.json says");
        out.lowRank[linear] = {b, a};
        if (!tensors.count(linear + ".weight"))
            out.factorOnly.insert(linear);
    }
    out.checkpoint = denseCheckpoint(dir, config, tensors, [&](const std::string& linear) {
        const auto it = out.lowRank.find(linear);
        return it == out.lowRank.end()
                   ? at::Tensor()
                   : at::zeros({it->second.B.size(0), it->second.A.size(1)}); // factors alone
    });
    for (const auto& [linear, factors] : out.lowRank) {
        const at::Tensor* w = out.checkpoint.find(linear + ".weight");
        if (!w)
            fail(configPath.string(),
                 "rankscope_factorization names " + linear + ", which is no linear of the model");
        expectPairFits(factors, *w, linear, dir / "model.safetensors");
    }
    out.summary.factorOnlyLayers = static_cast<int64_t>(out.factorOnly.size());
    return out;
}

// Ranks of the low-rank paths: the most common (ties: the larger), the smallest and largest.
void summarizeRanks(LoadedExport& out) {
    std::map<int64_t, int64_t> count;
    for (const auto& [linear, f] : out.lowRank)
        ++count[f.rank()];
    out.summary.lowRankLayers = static_cast<int64_t>(out.lowRank.size());
    if (count.empty())
        return;
    out.summary.minRank = count.begin()->first;
    out.summary.maxRank = count.rbegin()->first;
    if (out.summary.rank == 0)
        out.summary.rank = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) {
                               return a.second < b.second;
                           })->first;
}

void convertFloating(Checkpoint& ckpt, const std::string& dtype, const fs::path& dir) {
    const auto type = parseFloatDtype(dtype);
    if (!type)
        fail(dir.string(),
             "unsupported dtype '" + dtype + "' (supported: float32, bfloat16, float16)");
    for (NamedTensor& t : ckpt.tensors)
        if (t.tensor.is_floating_point())
            t.tensor = t.tensor.to(*type);
}

} // namespace

std::string describeExport(const ExportSummary& s) {
    std::string text = std::string(exportFormatName(s.format)) + " export";
    std::vector<std::string> parts;
    if (s.bits > 0)
        parts.push_back("GPTQ " + std::to_string(s.bits) + "-bit, " +
                        (s.groupSize > 0 ? "group " + std::to_string(s.groupSize) : "per row") +
                        (s.descAct ? ", act-order" : "") + " (" +
                        std::to_string(s.quantizedLayers) + " linears quantized, " +
                        std::to_string(s.denseLayers) + " dense)");
    const std::string ranks = s.minRank == s.maxRank ? "rank " + std::to_string(s.rank)
                                                     : "rank " + std::to_string(s.rank) + " (" +
                                                           std::to_string(s.minRank) + "-" +
                                                           std::to_string(s.maxRank) + ")";
    if (s.format == ExportFormat::GptqPeft)
        parts.push_back(s.lowRankLayers > 0 ? "LoRA adapter " + ranks + " on " +
                                                  std::to_string(s.lowRankLayers) + " linears"
                                            : "no adapter");
    if (s.format == ExportFormat::Factorized)
        parts.push_back(std::to_string(s.lowRankLayers) + " factorized linears, " + ranks + ", " +
                        std::to_string(s.factorOnlyLayers) + " without a dense base");
    if (s.format == ExportFormat::Merged)
        parts.push_back("dense W_c + B A per linear");
    for (size_t i = 0; i < parts.size(); ++i)
        text += (i == 0 ? ": " : "; ") + parts[i];
    return text;
}

bool isExportDirectory(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec))
        return false;
    if (fs::exists(path / kExportManifest, ec))
        return true;
    if (!fs::exists(path / "config.json", ec))
        return false;
    // A config.json that cannot be read is left to the ordinary loader to report.
    json config;
    try {
        config = json::parse(readTextFile(path / "config.json"), nullptr, false);
    } catch (const Error&) {
        return false;
    }
    return config.is_object() &&
           (config.contains("quantization_config") || config.contains(kFactorizationField));
}

LoadedExport loadExport(const fs::path& dir, const std::string& dtype) {
    const fs::path configPath = dir / "config.json";
    const json config = readJson(configPath);
    const ModelConfig modelConfig = readModelConfig(configPath);
    LoadedExport out;
    if (config.contains("quantization_config")) {
        const json& q = config["quantization_config"];
        const std::string method =
            readFields(configPath, [&] { return q.value("quant_method", std::string()); });
        if (method != "gptq")
            fail(configPath.string(),
                 "quantization method '" + method + "' is not supported (only gptq)");
        out = loadGptq(dir, modelConfig, q);
    } else if (config.contains(kFactorizationField)) {
        out = loadFactorized(dir, modelConfig, config[kFactorizationField]);
    } else {
        out.checkpoint = loadCheckpoint(dir, dtype);
    }
    std::error_code ec;
    out.summary.manifest = fs::exists(dir / kExportManifest, ec);
    if (out.summary.format != ExportFormat::Merged)
        convertFloating(out.checkpoint, dtype, dir);
    if (out.summary.format != ExportFormat::Merged || out.summary.manifest)
        out.checkpoint.format = std::string(exportFormatName(out.summary.format)) + " export";
    summarizeRanks(out);
    return out;
}

} // namespace rs
