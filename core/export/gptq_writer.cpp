// The GPTQ v1 base and the PEFT LoRA adapter (DESIGN.md §3).
#include "export/export_writer.h"
#include "formats/gptq_pack.h"
#include "export/source_model.h"
#include "export/writer_common.h"
#include "io/safetensorswriter.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <map>
#include <regex>
#include <set>

namespace rs {

namespace fs = std::filesystem;
using namespace exportfiles;

namespace {

// "model.layers.3.mlp.down_proj" -> "mlp.down_proj" (the name inside a decoder block).
std::string inBlock(const std::string& name) {
    static const std::regex block(R"(^model\.layers\.\d+\.(.+)$)");
    std::smatch m;
    return std::regex_match(name, m, block) ? m[1].str() : name;
}

std::string regexEscape(const std::string& text) {
    static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
    return std::regex_replace(text, special, R"(\$&)");
}

struct QuantSettings {
    int bits = 0;
    int64_t groupSize = 0;
    bool symmetric = false;
    bool actOrder = false;
};

// One bits/group/sym setting for the whole checkpoint: the config holds a single one.
QuantSettings settingsOf(const std::vector<const ExportLinear*>& quantized) {
    QuantSettings s;
    for (const ExportLinear* l : quantized) {
        const QuantGrid& g = *l->grid;
        const bool permuted =
            !at::equal(g.groupIndex.to(at::kCPU, at::kLong),
                       at::arange(g.codes.size(1), at::kLong)
                           .div(g.groupSize == -1 ? g.codes.size(1) : g.groupSize, "floor"));
        if (s.bits == 0)
            s = {g.bits, g.groupSize, g.symmetric, permuted};
        else if (g.bits != s.bits || g.groupSize != s.groupSize || g.symmetric != s.symmetric)
            fail(l->name, "uses another bit width, group size or grid than the other layers; "
                          "a GPTQ checkpoint has one setting");
        s.actOrder = s.actOrder || permuted;
    }
    return s;
}

nlohmann::ordered_json quantizationConfig(const QuantSettings& s,
                                          const std::vector<std::string>& quantizedNames,
                                          const WrittenExport& written) {
    nlohmann::ordered_json q = {{"quant_method", "gptq"},    {"bits", s.bits},
                                {"group_size", s.groupSize}, {"desc_act", s.actOrder},
                                {"sym", s.symmetric},        {"checkpoint_format", "gptq"},
                                {"true_sequential", true}};
    if (written.denseLayers.empty())
        return q;
    // Layers kept dense, in the forms loaders read: GPTQModel and vLLM skip modules matching a
    // negative "dynamic" pattern; Transformers/Optimum quantize only modules_in_block_to_quantize
    // (one list for every block, so written only when all blocks agree).
    nlohmann::ordered_json dynamic = nlohmann::ordered_json::object();
    nlohmann::ordered_json names = nlohmann::ordered_json::array();
    for (const auto& [name, reason] : written.denseLayers) {
        dynamic["-:^" + regexEscape(name) + "$"] = nlohmann::ordered_json::object();
        names.push_back(name);
    }
    q["dynamic"] = dynamic;
    q["modules_to_not_convert"] = names;
    std::map<std::string, std::set<std::string>> perBlock; // block prefix -> quantized modules
    for (const std::string& n : quantizedNames)
        perBlock[n.substr(0, n.size() - inBlock(n).size())].insert(inBlock(n));
    for (const auto& [n, reason] : written.denseLayers)
        perBlock[n.substr(0, n.size() - inBlock(n).size())];
    bool uniform = true;
    for (const auto& [block, modules] : perBlock)
        uniform = uniform && modules == perBlock.begin()->second;
    if (uniform && !perBlock.empty()) {
        nlohmann::ordered_json inBlockList = nlohmann::ordered_json::array();
        for (const std::string& m : perBlock.begin()->second)
            inBlockList.push_back(nlohmann::ordered_json::array({m}));
        q["modules_in_block_to_quantize"] = inBlockList;
    }
    return q;
}

void writeAdapter(const fs::path& dir, const ExportContent& content, at::ScalarType dtype,
                  WrittenExport& written, const JobContext& job) {
    std::vector<NamedTensor> tensors;
    nlohmann::ordered_json targets = nlohmann::ordered_json::array();
    nlohmann::ordered_json ranks = nlohmann::ordered_json::object();
    std::map<int64_t, int64_t> rankCount;
    for (const ExportLinear& l : content.linears) {
        if (l.factors.rank() == 0)
            continue;
        job.cancel.throwIfCancelled();
        tensors.push_back({loraTensorName(l.name, 'A'), l.factors.A.to(at::kCPU, dtype)});
        tensors.push_back({loraTensorName(l.name, 'B'), l.factors.B.to(at::kCPU, dtype)});
        written.linearBytes +=
            tensors[tensors.size() - 2].tensor.nbytes() + tensors.back().tensor.nbytes();
        targets.push_back(l.name);
        ranks[l.name] = l.factors.rank();
        ++rankCount[l.factors.rank()];
    }
    if (tensors.empty())
        return; // an uncompensated variant has no adapter
    int64_t r = 0, most = 0;
    for (const auto& [rank, count] : rankCount)
        if (count > most)
            r = rank, most = count;
    fs::create_directory(dir);
    job.report("write", 0, 0, "adapter");
    writeSafetensors(dir / "adapter_model.safetensors", tensors, {{"format", "pt"}});
    // lora_alpha = r and alpha_pattern = rank_pattern: every module's scale alpha / r is 1, so
    // the adapter adds exactly B A.
    const nlohmann::ordered_json config = {{"peft_type", "LORA"},
                                           {"task_type", "CAUSAL_LM"},
                                           {"base_model_name_or_path", content.adapterBase},
                                           {"r", r},
                                           {"lora_alpha", r},
                                           {"target_modules", targets},
                                           {"rank_pattern", ranks},
                                           {"alpha_pattern", ranks},
                                           {"lora_dropout", 0.0},
                                           {"bias", "none"},
                                           {"fan_in_fan_out", false},
                                           {"use_rslora", false},
                                           {"use_dora", false},
                                           {"init_lora_weights", true},
                                           {"modules_to_save", nullptr},
                                           {"inference_mode", true}};
    writeJson(dir / "adapter_config.json", config);
}

} // namespace

WrittenExport writeGptqPeft(const fs::path& dir, const ExportContent& content,
                            const JobContext& job) {
    const at::ScalarType dtype = produced(content);
    WrittenExport written;
    std::vector<const ExportLinear*> quantized;
    std::string firstReason;
    for (const ExportLinear& l : content.linears) {
        if (!l.base.defined())
            fail(l.name, "has no base weight; a GPTQ checkpoint needs one for every linear");
        written.linearWeights += l.base.numel();
        std::optional<std::string> reason =
            l.grid ? gptqIncompatibility(*l.grid)
                   : std::optional<std::string>("the compression method does not quantize it");
        if (reason) {
            written.denseLayers.emplace_back(l.name, *reason);
            if (firstReason.empty())
                firstReason = l.name + ": " + *reason;
        } else {
            quantized.push_back(&l);
        }
    }
    if (quantized.empty())
        fail("gptq+peft", "no layer can be stored in the GPTQ format (" + firstReason + ")");
    const QuantSettings settings = settingsOf(quantized);

    std::vector<NamedTensor> tensors = untouchedTensors(*content.source, content.linears);
    std::vector<std::string> quantizedNames;
    for (const ExportLinear* l : quantized) {
        job.cancel.throwIfCancelled();
        const GptqTensors t = toGptq(*l->grid, l->name);
        const std::pair<const char*, at::Tensor> parts[] = {{".qweight", t.qweight},
                                                            {".qzeros", t.qzeros},
                                                            {".scales", t.scales},
                                                            {".g_idx", t.gIdx}};
        for (const auto& [suffix, tensor] : parts) {
            tensors.push_back({l->name + suffix, tensor});
            written.linearBytes += tensor.nbytes();
        }
        quantizedNames.push_back(l->name);
    }
    for (const auto& [name, reason] : written.denseLayers)
        for (const ExportLinear& l : content.linears)
            if (l.name == name) {
                tensors.push_back({name + ".weight", l.base.to(at::kCPU, dtype).contiguous()});
                written.linearBytes += tensors.back().tensor.nbytes();
            }
    written.quantizedLayers = static_cast<int64_t>(quantized.size());
    writeWeights(dir, tensors, job);

    const nlohmann::ordered_json q = quantizationConfig(settings, quantizedNames, written);
    nlohmann::ordered_json config = sourceConfig(*content.source);
    config["torch_dtype"] = content.dtype;
    config["quantization_config"] = q;
    writeJson(dir / "config.json", config);
    writeJson(dir / "quantize_config.json", q);
    copyModelFiles(dir, *content.source, job);
    writeAdapter(dir / kAdapterDir, content, dtype, written, job);
    return written;
}

} // namespace rs
