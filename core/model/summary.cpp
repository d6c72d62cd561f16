#include "model/summary.h"

#include "io/checkpoint.h"
#include "model/llama.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

namespace rs {

namespace {

// The names users write on the command line and in config.json ("float32"), not ATen's ("Float").
std::string floatDtypeName(at::ScalarType type) {
    switch (type) {
    case at::kFloat:
        return "float32";
    case at::kBFloat16:
        return "bfloat16";
    case at::kHalf:
        return "float16";
    case at::kDouble:
        return "float64";
    default:
        return std::string(c10::toString(type));
    }
}

// Every tensor name a model of this config reads (each linear may have a weight, a bias and a
// low-rank pair).
std::set<std::string> usedTensorNames(const ModelConfig& c) {
    std::set<std::string> used = {"model.embed_tokens.weight", "model.norm.weight"};
    if (!c.tieWordEmbeddings)
        used.insert("lm_head.weight");
    for (int64_t block = 0; block < c.numLayers; ++block) {
        const std::string prefix = "model.layers." + std::to_string(block) + ".";
        used.insert(prefix + "input_layernorm.weight");
        used.insert(prefix + "post_attention_layernorm.weight");
        for (LinearKind kind : kAllLinearKinds) {
            const std::string linear = linearName(block, kind);
            for (const std::string& name :
                 {linear + ".weight", linear + ".bias", lowRankTensorName(linear, 0),
                  lowRankTensorName(linear, 1)})
                used.insert(name);
        }
    }
    return used;
}

} // namespace

std::string unusedTensorsWarning(const ModelSummary& s) {
    if (s.unusedTensors.empty())
        return "";
    std::string names;
    for (size_t i = 0; i < std::min<size_t>(s.unusedTensors.size(), 4); ++i)
        names += (i ? ", " : "") + s.unusedTensors[i];
    if (s.unusedTensors.size() > 4)
        names += " and " + std::to_string(s.unusedTensors.size() - 4) + " more";
    return std::to_string(s.unusedTensors.size()) + " tensor(s) in " + s.source +
           " are not used by its config and not counted: " + names;
}

ModelSummary summarize(const Checkpoint& checkpoint) {
    ModelSummary s;
    s.source = checkpoint.source.string();
    s.format = checkpoint.format;
    s.config = checkpoint.config;
    s.architecture = checkpoint.config.modelType + " (LLaMA family)";
    const std::set<std::string> used = usedTensorNames(checkpoint.config);
    for (const NamedTensor& t : checkpoint.tensors) {
        if (!used.count(t.name)) {
            s.unusedTensors.push_back(t.name);
            continue;
        }
        s.totalParameters += t.tensor.numel();
        if (t.tensor.is_floating_point())
            s.storedDtype = floatDtypeName(t.tensor.scalar_type());
    }
    if (const at::Tensor* embed = checkpoint.find("model.embed_tokens.weight"))
        s.embeddingParameters += embed->numel();
    if (const at::Tensor* head = checkpoint.find("lm_head.weight");
        head && !checkpoint.config.tieWordEmbeddings)
        s.embeddingParameters += head->numel();

    for (int64_t block = 0; block < checkpoint.config.numLayers; ++block) {
        for (LinearKind kind : kAllLinearKinds) {
            LinearLayerInfo info;
            info.name = linearName(block, kind);
            info.block = block;
            const std::string suffix = linearSuffix(kind);
            info.kind = suffix.substr(suffix.find('.') + 1);
            if (const at::Tensor* weight = checkpoint.find(info.name + ".weight")) {
                info.outFeatures = weight->size(0);
                info.inFeatures = weight->size(1);
                info.parameters = weight->numel();
            } else { // factor-only: its low-rank pair A [r, d_in], B [d_out, r]
                const at::Tensor& a = checkpoint.require(lowRankTensorName(info.name, 0));
                const at::Tensor& b = checkpoint.require(lowRankTensorName(info.name, 1));
                info.outFeatures = b.size(0);
                info.inFeatures = a.size(1);
                info.parameters = a.numel() + b.numel();
            }
            if (const at::Tensor* bias = checkpoint.find(info.name + ".bias")) {
                info.hasBias = true;
                info.parameters += bias->numel();
            }
            s.linearParameters += info.parameters;
            s.linears.push_back(std::move(info));
        }
    }
    return s;
}

std::string formatSummary(const ModelSummary& s, bool withLayers) {
    const ModelConfig& c = s.config;
    std::ostringstream out;
    out << "model         " << s.source << "\n"
        << "format        " << s.format << " (" << s.storedDtype << ")\n"
        << "architecture  " << s.architecture << "\n"
        << "dimensions    hidden " << c.hiddenSize << ", intermediate " << c.intermediateSize
        << ", layers " << c.numLayers << ", heads " << c.numHeads << " (kv " << c.numKvHeads
        << "), head_dim " << c.headDim << "\n"
        << "vocabulary    " << c.vocabSize << " tokens, context " << c.maxPositions
        << " positions\n"
        << "rope          theta " << c.ropeTheta
        << (c.ropeScaling ? ", scaling " + c.ropeScaling->type : std::string()) << "\n"
        << "embeddings    " << (c.tieWordEmbeddings ? "tied" : "separate output head") << "\n"
        << "parameters    " << formatCount(s.totalParameters) << " total, "
        << formatCount(s.linearParameters) << " in " << s.linears.size() << " decoder linears, "
        << formatCount(s.embeddingParameters) << " in embeddings\n";
    if (!s.unusedTensors.empty())
        out << "warning       " << unusedTensorsWarning(s) << "\n";
    if (withLayers) {
        out << "\nlinear layers (d_out x d_in)\n";
        char line[160];
        for (const LinearLayerInfo& l : s.linears) {
            std::snprintf(line, sizeof line, "  %-36s %6lld x %-6lld %12s%s\n", l.name.c_str(),
                          static_cast<long long>(l.outFeatures),
                          static_cast<long long>(l.inFeatures), formatCount(l.parameters).c_str(),
                          l.hasBias ? "  +bias" : "");
            out << line;
        }
    }
    return out.str();
}

} // namespace rs
