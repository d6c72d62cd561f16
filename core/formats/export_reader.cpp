#include "formats/export_reader.h"

#include "formats/gguf_export.h"
#include "formats/gguf_model.h"
#include "formats/gptq_pack.h"
#include "io/dtype.h"
#include "io/hfconfig.h"
#include "io/hfmodel.h"
#include "io/jsonerror.h"
#include "io/safetensors.h"
#include "model/llama.h"
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

using SharedFile = std::shared_ptr<const SafetensorsFile>;

const at::Tensor& need(const Checkpoint& files, const std::string& name, const fs::path& where) {
    const at::Tensor* t = files.find(name);
    if (!t)
        fail(where.string(), "missing tensor " + name);
    return *t;
}

void expectShape(const at::Tensor& t, std::vector<int64_t> shape, const std::string& name,
                 const fs::path& where) {
    if (t.sizes().vec() != shape)
        fail(where.string(), "tensor " + name + " has shape " + formatShape(t.sizes()) +
                                 ", expected " + formatShape(shape));
}

// A low-rank pair must fit the base linear it is added to: A [r, d_in], B [d_out, r].
void expectPairFits(const at::Tensor& a, const at::Tensor& b, at::IntArrayRef base,
                    const std::string& linear, const fs::path& where) {
    if (a.dim() != 2 || b.dim() != 2 || b.size(1) != a.size(0) || a.size(1) != base[1] ||
        b.size(0) != base[0])
        fail(where.string(), "the low-rank pair of " + linear + " (A " + formatShape(a.sizes()) +
                                 ", B " + formatShape(b.sizes()) +
                                 ") does not fit its base weight " + formatShape(base) +
                                 " (expected A [r, d_in] and B [d_out, r])");
}

// The export read back: its own tensors stay views of the mapped files, computed ones are
// deferred until a block is built.
class ExportCheckpoint {
public:
    ExportCheckpoint(const fs::path& dir, const ModelConfig& config, Checkpoint files)
        : m_files(std::move(files)) {
        m_ckpt.source = dir;
        m_ckpt.config = config;
        m_ckpt.shards = m_files.shards;
    }

    const Checkpoint& files() const { return m_files; }
    const Checkpoint& checkpoint() const { return m_ckpt; }
    Checkpoint take() { return std::move(m_ckpt); }

    void addMapped(const std::string& name) {
        m_ckpt.tensors.push_back({name, *m_files.find(name)});
        m_ckpt.mappedFiles.emplace(name, m_files.mappedFiles.at(name));
    }

    // `name` is computed from the mapped tensors `reads` of `file` when a block needs it.
    void addDeferred(const std::string& name, at::IntArrayRef shape, at::ScalarType dtype,
                     std::function<at::Tensor()> compute, std::vector<std::string> reads,
                     const SharedFile& file) {
        m_ckpt.tensors.push_back(
            {name, at::empty(shape, at::TensorOptions().dtype(dtype).device(at::kMeta))});
        for (const std::string& r : reads)
            m_ckpt.mappedFiles.emplace(r, file);
        m_ckpt.deferred[name] = {std::move(compute), std::move(reads)};
    }

    void addShard(const SharedFile& file) { m_ckpt.shards.push_back(file); }

private:
    Checkpoint m_files;
    Checkpoint m_ckpt;
};

// The model's tensors from the export's files: those stored under their own names are mapped,
// a missing linear weight is asked of `missingWeight` (which adds it, or leaves a factor-only
// layer without one, and returns whether it handled the linear).
void addModelTensors(ExportCheckpoint& out, const fs::path& dir,
                     const std::function<bool(const TensorSpec&)>& missingWeight) {
    for (const TensorSpec& spec : llamaTensorSpecs(out.checkpoint().config)) {
        if (const at::Tensor* t = out.files().find(spec.name)) {
            expectShape(*t, spec.shape, spec.name, dir);
            out.addMapped(spec.name);
        } else if (!spec.name.ends_with("_proj.weight") || !missingWeight(spec)) {
            fail((dir / "model.safetensors").string(), "missing tensor " + spec.name);
        }
    }
}

std::string linearOf(const std::string& weightName) {
    return weightName.substr(0, weightName.size() - std::string(".weight").size());
}

// The PEFT adapter in dir/adapter: each pair becomes the linear's low-rank path, B scaled by
// alpha / r when that is not 1.
void readAdapter(const fs::path& dir, ExportCheckpoint& out, ExportSummary& summary) {
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
    summary.rank = static_cast<int64_t>(scales.r);
    const fs::path weights = dir / "adapter_model.safetensors";
    const auto file = std::make_shared<const SafetensorsFile>(SafetensorsFile::open(weights));
    out.addShard(file);
    for (const std::string& key : file->names()) {
        const std::string prefix = "base_model.model.", suffix = ".lora_A.weight";
        if (!key.ends_with(suffix))
            continue;
        if (!key.starts_with(prefix))
            fail(weights.string(), "tensor " + key + " does not start with " + prefix);
        const std::string linear =
            key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
        const at::Tensor* base = out.checkpoint().find(linear + ".weight");
        if (!base)
            fail(weights.string(), "tensor " + key + " names no linear of the model");
        const std::string keyB = loraTensorName(linear, 'B');
        if (!file->contains(keyB))
            fail(weights.string(), "has " + key + " but no " + keyB);
        const at::Tensor a = mappedTensor(file, key), b = mappedTensor(file, keyB);
        expectPairFits(a, b, base->sizes(), linear, weights);
        const double moduleRank = readFields(configPath, [&] {
            return scales.ranks.contains(linear) ? scales.ranks[linear].get<double>() : scales.r;
        });
        const double moduleAlpha = readFields(configPath, [&] {
            return scales.alphas.contains(linear) ? scales.alphas[linear].get<double>()
                                                  : scales.alpha;
        });
        if (moduleRank != static_cast<double>(a.size(0)))
            fail(configPath.string(), "rank of " + linear + " is " +
                                          std::to_string(static_cast<int64_t>(moduleRank)) +
                                          ", but its tensors in " + weights.string() +
                                          " have rank " + std::to_string(a.size(0)));
        const double scale = moduleAlpha / moduleRank;
        out.addDeferred(
            lowRankTensorName(linear, 0), a.sizes(), a.scalar_type(), [a] { return a; }, {key},
            file);
        out.addDeferred(
            lowRankTensorName(linear, 1), b.sizes(), scale == 1.0 ? b.scalar_type() : at::kFloat,
            [b, scale] { return scale == 1.0 ? b : b.to(at::kFloat) * scale; }, {keyB}, file);
        ++summary.lowRankLayers;
    }
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
    ExportCheckpoint ckpt(dir, config, mapModelTensors(dir));
    const Checkpoint& files = ckpt.files();
    int64_t linears = 0;
    addModelTensors(ckpt, dir, [&](const TensorSpec& spec) {
        const std::string linear = linearOf(spec.name);
        if (!files.find(linear + ".qweight"))
            return false;
        const std::string label = (dir / "model.safetensors").string() + ": " + linear;
        const std::vector<std::string> parts = {linear + ".qweight", linear + ".qzeros",
                                                linear + ".scales", linear + ".g_idx"};
        const GptqTensors t{need(files, parts[0], dir), need(files, parts[1], dir),
                            need(files, parts[2], dir), need(files, parts[3], dir)};
        const auto [dOut, dIn] = checkGptqShapes(t, bits, label);
        expectShape(at::empty({dOut, dIn}, at::kMeta), spec.shape, spec.name, dir);
        ckpt.addDeferred(
            spec.name, spec.shape, at::kFloat,
            [t, bits, label] { return dequantizeGptq(t, bits, label); }, parts,
            files.mappedFiles.at(parts[0]));
        ++out.summary.quantizedLayers;
        return true;
    });
    if (out.summary.quantizedLayers == 0)
        fail((dir / "model.safetensors").string(),
             "config.json declares a GPTQ model, but no linear has a qweight tensor");
    for (const TensorSpec& spec : llamaTensorSpecs(config))
        if (spec.name.starts_with("model.layers.") && spec.name.ends_with("_proj.weight"))
            ++linears;
    out.summary.denseLayers = linears - out.summary.quantizedLayers;
    readAdapter(dir / kAdapterDir, ckpt, out.summary);
    out.checkpoint = ckpt.take();
    return out;
}

LoadedExport loadFactorized(const fs::path& dir, const ModelConfig& config, const json& f) {
    const fs::path configPath = dir / "config.json";
    const std::map<std::string, int64_t> ranks = readFields(configPath, [&] {
        return f.value("ranks", json::object()).get<std::map<std::string, int64_t>>();
    });
    ExportCheckpoint ckpt(dir, config, mapModelTensors(dir));
    const Checkpoint& files = ckpt.files();
    LoadedExport out;
    out.summary.format = ExportFormat::Factorized;
    for (const auto& [linear, rank] : ranks) {
        const at::Tensor& a = need(files, lowRankTensorName(linear, 0), dir);
        const at::Tensor& b = need(files, lowRankTensorName(linear, 1), dir);
        if (a.dim() != 2 || b.dim() != 2 || a.size(0) != rank || b.size(1) != a.size(0))
            fail(dir.string(), "factors of " + linear + " (A " + formatShape(a.sizes()) + ", B " +
                                   formatShape(b.sizes()) + ") do not have rank " +
                                   std::to_string(rank) + " as config.json says");
    }
    std::map<std::string, std::vector<int64_t>> shapes; // of every linear of the model
    for (const TensorSpec& spec : llamaTensorSpecs(config))
        if (spec.name.ends_with("_proj.weight"))
            shapes[linearOf(spec.name)] = spec.shape;
    addModelTensors(ckpt, dir, [&](const TensorSpec& spec) {
        if (!ranks.count(linearOf(spec.name)))
            return false;
        ++out.summary.factorOnlyLayers; // its factor pair alone
        return true;
    });
    for (const auto& [linear, rank] : ranks) {
        const auto shape = shapes.find(linear);
        if (shape == shapes.end())
            fail(configPath.string(),
                 "rankscope_factorization names " + linear + ", which is no linear of the model");
        expectPairFits(*files.find(lowRankTensorName(linear, 0)),
                       *files.find(lowRankTensorName(linear, 1)), shape->second, linear,
                       dir / "model.safetensors");
        ckpt.addMapped(lowRankTensorName(linear, 0));
        ckpt.addMapped(lowRankTensorName(linear, 1));
        ++out.summary.lowRankLayers;
    }
    out.checkpoint = ckpt.take();
    return out;
}

// Ranks of the low-rank paths: the most common (ties: the larger), the smallest and largest.
void summarizeRanks(LoadedExport& out) {
    std::map<int64_t, int64_t> count;
    const Checkpoint& ckpt = out.checkpoint;
    for (int64_t layer = 0; layer < ckpt.config.numLayers; ++layer)
        for (LinearKind kind : kAllLinearKinds)
            if (const at::Tensor* a = ckpt.find(lowRankTensorName(linearName(layer, kind), 0)))
                ++count[a->size(0)];
    if (count.empty())
        return;
    out.summary.minRank = count.begin()->first;
    out.summary.maxRank = count.rbegin()->first;
    if (out.summary.rank == 0)
        out.summary.rank = std::max_element(count.begin(), count.end(), [](auto& a, auto& b) {
                               return a.second < b.second;
                           })->first;
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
    if (s.format == ExportFormat::Gguf) {
        parts.push_back(s.ggufBaseType + " base (" + std::to_string(s.quantizedLayers) +
                        " linears in llama.cpp blocks, " + std::to_string(s.denseLayers) +
                        " in float)");
        parts.push_back(s.lowRankLayers > 0 ? "LoRA adapter " + ranks + " on " +
                                                  std::to_string(s.lowRankLayers) + " linears"
                                            : "no adapter");
    }
    for (size_t i = 0; i < parts.size(); ++i)
        text += (i == 0 ? ": " : "; ") + parts[i];
    return text;
}

bool isExportDirectory(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_directory(path, ec))
        return false;
    if (fs::exists(path / kExportManifest, ec) || fs::exists(path / gguf::kModelFile, ec))
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

LoadedExport loadExport(const fs::path& dir) {
    const fs::path configPath = dir / "config.json";
    const json config = readJson(configPath);
    const ModelConfig modelConfig = readModelConfig(configPath);
    LoadedExport out;
    std::error_code exists;
    if (fs::exists(dir / gguf::kModelFile, exists)) {
        out = loadGgufExport(dir, modelConfig);
    } else if (config.contains("quantization_config")) {
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
        out.checkpoint = openCheckpoint(dir);
    }
    std::error_code ec;
    out.summary.manifest = fs::exists(dir / kExportManifest, ec);
    if (out.summary.format != ExportFormat::Merged || out.summary.manifest)
        out.checkpoint.format = std::string(exportFormatName(out.summary.format)) + " export";
    summarizeRanks(out);
    return out;
}

} // namespace rs
