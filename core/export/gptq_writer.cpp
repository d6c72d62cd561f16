// The GPTQ v1 base and the PEFT LoRA adapter (docs/design.md §3).
#include "export/export_writer.h"
#include "export/gptq_preview.h"
#include "export/source_model.h"
#include "export/writer_common.h"
#include "formats/gptq_pack.h"
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

// One bits/group/sym setting for the whole checkpoint (the config holds a single one): folds
// the grid of quantized linear `name` into `s`.
void includeGrid(QuantSettings& s, const QuantGrid& g, const std::string& name) {
    const bool permuted =
        !at::equal(g.groupIndex.to(at::kCPU, at::kLong),
                   at::arange(g.codes.size(1), at::kLong)
                       .div(g.groupSize == -1 ? g.codes.size(1) : g.groupSize, "floor"));
    if (s.bits == 0)
        s = {g.bits, g.groupSize, g.symmetric, permuted};
    else if (g.bits != s.bits || g.groupSize != s.groupSize || g.symmetric != s.symmetric)
        fail(name, "uses another bit width, group size or grid than the other layers; "
                   "a GPTQ checkpoint has one setting");
    s.actOrder = s.actOrder || permuted;
}

// "model.layers.3.mlp.down_proj" -> "model.layers.3." (the block's prefix).
std::string blockOf(const std::string& name) {
    return name.substr(0, name.size() - inBlock(name).size());
}

// Whether every decoder block quantizes the same linears: Transformers + Optimum's GPTQ loader
// ignores "dynamic" and, without modules_in_block_to_quantize, converts every linear.
bool blocksAgree(const std::vector<std::string>& quantizedNames, const WrittenExport& written) {
    std::map<std::string, std::set<std::string>> perBlock;
    for (const std::string& n : quantizedNames)
        perBlock[blockOf(n)].insert(inBlock(n));
    for (const auto& [n, reason] : written.denseLayers)
        perBlock[blockOf(n)];
    for (const auto& [block, modules] : perBlock)
        if (modules != perBlock.begin()->second)
            return false;
    return true;
}

// blocksAgree: every block quantizes the same linears.
nlohmann::ordered_json quantizationConfig(const QuantSettings& s,
                                          const std::vector<std::string>& quantizedNames,
                                          const WrittenExport& written, bool blocksAgree) {
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
    if (!quantizedNames.empty() && blocksAgree) {
        std::set<std::string> modules; // of the first block, the same in every block
        for (const std::string& n : quantizedNames)
            if (blockOf(n) == blockOf(quantizedNames.front()))
                modules.insert(inBlock(n));
        nlohmann::ordered_json inBlockList = nlohmann::ordered_json::array();
        for (const std::string& m : modules)
            inBlockList.push_back(nlohmann::ordered_json::array({m}));
        q["modules_in_block_to_quantize"] = inBlockList;
    }
    return q;
}

// Which GPTQ kernel vLLM picks and which loaders would misread the checkpoint.
std::vector<std::string> runtimeNotes(const QuantSettings& s, bool blocksAgree) {
    std::vector<std::string> notes;
    const bool marlinBits = s.bits == 4 || s.bits == 8;
    if (marlinBits && s.symmetric)
        notes.push_back("vLLM: symmetric " + std::to_string(s.bits) +
                        "-bit grid, runs with the fast Marlin kernel");
    else if (marlinBits)
        notes.push_back("vLLM: asymmetric grid, runs with the slower GPTQ kernel (Marlin needs "
                        "sym=true; compress with sym=true for it)");
    else
        notes.push_back("vLLM: " + std::to_string(s.bits) +
                        "-bit codes run with the GPTQ kernel (Marlin takes 4 and 8 bits only)");
    if (!blocksAgree)
        notes.push_back("Transformers + Optimum: the decoder blocks do not quantize the same "
                        "linears, and that loader ignores `dynamic` and would read every linear "
                        "as quantized; load this export with GPTQModel or vLLM");
    return notes;
}

class GptqWriter : public ExportWriter::Impl {
public:
    using Impl::Impl;

    // Why each linear of the block stays dense. Fused siblings share the verdict: vLLM refuses a
    // fused layer whose shards are partly quantized.
    void beginBatch(const std::vector<ExportLinear>& linears) override {
        m_denseReason.clear();
        std::vector<std::string> names;
        for (const ExportLinear& l : linears) {
            names.push_back(l.name);
            const std::optional<std::string> reason =
                l.grid ? gptqIncompatibility(*l.grid)
                       : std::optional<std::string>("the compression method does not quantize it");
            if (reason)
                m_denseReason[l.name] = *reason;
        }
        keepFusedSiblingsDense(names, m_denseReason);
    }

    void convert(const ExportLinear& l, std::vector<NamedTensor>& out,
                 std::vector<NamedTensor>& adapterOut) override {
        if (!l.base.defined())
            fail(l.name, "has no base weight; a GPTQ checkpoint needs one for every linear");
        written.linearWeights += l.base.numel();
        const auto dense = m_denseReason.find(l.name);
        const std::optional<std::string> reason =
            dense == m_denseReason.end() ? std::nullopt : std::optional(dense->second);
        if (reason) {
            written.denseLayers.emplace_back(l.name, *reason);
            if (m_firstReason.empty())
                m_firstReason = l.name + ": " + *reason;
            out.push_back({l.name + ".weight", l.base.to(at::kCPU, dtype).contiguous()});
            written.linearBytes += out.back().tensor.nbytes();
        } else {
            includeGrid(m_settings, *l.grid, l.name);
            const GptqTensors t = toGptq(*l.grid, l.name);
            const std::pair<const char*, at::Tensor> parts[] = {{".qweight", t.qweight},
                                                                {".qzeros", t.qzeros},
                                                                {".scales", t.scales},
                                                                {".g_idx", t.gIdx}};
            for (const auto& [suffix, tensor] : parts) {
                out.push_back({l.name + suffix, tensor});
                written.linearBytes += tensor.nbytes();
            }
            m_quantizedNames.push_back(l.name);
            ++written.quantizedLayers;
        }
        if (l.factors.rank() > 0) {
            for (const auto& [which, factor] :
                 {std::pair{'A', &l.factors.A}, {'B', &l.factors.B}}) {
                adapterOut.push_back({loraTensorName(l.name, which), factor->to(at::kCPU, dtype)});
                written.linearBytes += adapterOut.back().tensor.nbytes();
            }
            m_targets.push_back(l.name);
            m_ranks[l.name] = l.factors.rank();
            ++m_rankCount[l.factors.rank()];
        }
    }

    void checkComplete() const override {
        if (m_quantizedNames.empty())
            fail("gptq+peft", "no layer can be stored in the GPTQ format (" + m_firstReason + ")");
    }

    void finishFormat() override {
        const bool agree = blocksAgree(m_quantizedNames, written);
        const nlohmann::ordered_json q =
            quantizationConfig(m_settings, m_quantizedNames, written, agree);
        written.runtimeNotes = runtimeNotes(m_settings, agree);
        nlohmann::ordered_json config = sourceConfig(*settings.source);
        config["torch_dtype"] = settings.dtype;
        config["quantization_config"] = q;
        writeJson(dir / "config.json", config);
        writeJson(dir / "quantize_config.json", q);
        writeAdapter(dir / kAdapterDir);
    }

private:
    void writeAdapter(const fs::path& adapterDir) {
        if (adapter.empty())
            return; // an uncompensated variant has no adapter
        int64_t r = 0, most = 0;
        for (const auto& [rank, count] : m_rankCount)
            if (count > most)
                r = rank, most = count;
        job.cancel.throwIfCancelled();
        fs::create_directory(adapterDir);
        job.report("write", 0, 0, "adapter");
        writeSpilled(adapterDir / "adapter_model.safetensors", adapter);
        // lora_alpha = r and alpha_pattern = rank_pattern: every module's scale alpha / r is 1,
        // so the adapter adds exactly B A.
        const nlohmann::ordered_json config = {{"peft_type", "LORA"},
                                               {"task_type", "CAUSAL_LM"},
                                               {"base_model_name_or_path", settings.adapterBase},
                                               {"r", r},
                                               {"lora_alpha", r},
                                               {"target_modules", m_targets},
                                               {"rank_pattern", m_ranks},
                                               {"alpha_pattern", m_ranks},
                                               {"lora_dropout", 0.0},
                                               {"bias", "none"},
                                               {"fan_in_fan_out", false},
                                               {"use_rslora", false},
                                               {"use_dora", false},
                                               {"init_lora_weights", true},
                                               {"modules_to_save", nullptr},
                                               {"inference_mode", true}};
        writeJson(adapterDir / "adapter_config.json", config);
    }

    QuantSettings m_settings;
    std::map<std::string, std::string> m_denseReason; // of the block being added
    std::vector<std::string> m_quantizedNames;
    std::string m_firstReason;
    nlohmann::ordered_json m_targets = nlohmann::ordered_json::array();
    nlohmann::ordered_json m_ranks = nlohmann::ordered_json::object();
    std::map<int64_t, int64_t> m_rankCount;
};

} // namespace

std::unique_ptr<ExportWriter::Impl> makeGptqWriter(fs::path dir, const ExportSettings& settings,
                                                   const JobContext& job) {
    return std::make_unique<GptqWriter>(std::move(dir), settings, job);
}

} // namespace rs
