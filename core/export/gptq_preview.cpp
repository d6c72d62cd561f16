#include "export/gptq_preview.h"

#include "formats/gptq_pack.h"
#include "methods/registry.h"

#include <algorithm>
#include <map>
#include <optional>

namespace rs {

namespace {

bool hasParam(const MethodConfig& config, const std::string& key) {
    const auto& params = config.spec().params;
    return std::any_of(params.begin(), params.end(),
                       [&](const ParamSpec& p) { return p.key == key; });
}

// The grid's bits, or 0 when the compression leaves weights off a grid.
int gridBits(const MethodConfig& compression) {
    if (!compression.spec().traits.quantizes || !hasParam(compression, "bits"))
        return 0;
    return int(compression.integer("bits"));
}

} // namespace

void keepFusedSiblingsDense(const std::vector<std::string>& names,
                            std::map<std::string, std::string>& reasons) {
    std::map<std::string, std::string> firstDense; // fused group -> its first dense linear
    for (const std::string& name : names)
        if (const std::string group = fusedGroup(name); !group.empty() && reasons.count(name))
            firstDense.try_emplace(group, name);
    for (const std::string& name : names) {
        const auto it = firstDense.find(fusedGroup(name));
        if (it != firstDense.end() && !reasons.count(name))
            reasons[name] = "kept dense with its fused sibling " + it->second +
                            " (vLLM refuses a fused layer whose shards are partly quantized)";
    }
}

std::vector<std::pair<std::string, std::string>>
gptqDenseLayers(const std::vector<LayerRecord>& layers, const MethodConfig& compression) {
    const int bits = gridBits(compression);
    const int64_t group = hasParam(compression, "group") ? compression.integer("group") : -1;
    std::vector<std::string> names;
    std::map<std::string, std::string> reasons;
    for (const LayerRecord& l : layers) {
        names.push_back(l.name);
        const std::optional<std::string> reason =
            bits == 0 ? std::optional<std::string>("the compression method does not quantize it")
                      : gptqShapeIncompatibility(bits, l.outFeatures, l.inFeatures, group);
        if (reason)
            reasons[l.name] = *reason;
    }
    keepFusedSiblingsDense(names, reasons);
    std::vector<std::pair<std::string, std::string>> dense;
    for (const std::string& name : names)
        if (const auto it = reasons.find(name); it != reasons.end())
            dense.emplace_back(name, it->second);
    return dense;
}

} // namespace rs
