#include "compress/compress.h"

#include "calib/stats.h"
#include "compress/ggml_quants.h"
#include "compress/gptq.h"
#include "compress/prune.h"
#include "compress/validate.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <map>

namespace rs {

namespace {

CompressedWeight quantized(QuantGrid grid) {
    CompressedWeight out;
    out.weight = dequantize(grid);
    out.quant = std::move(grid);
    return out;
}

PruneOptions pruneOptions(const MethodConfig& method) {
    PruneOptions options;
    options.sparsity = method.real("sparsity");
    const std::string& nm = method.text("nm");
    if (nm != "none") {
        const size_t colon = nm.find(':');
        options.keepN = std::stoll(nm.substr(0, colon));
        options.groupM = std::stoll(nm.substr(colon + 1));
    }
    return options;
}

CompressedWeight pruned(const MethodConfig& method, const at::Tensor& w, const at::Tensor& scores,
                        const std::string& layerName) {
    const at::Tensor mask = pruneMask(scores, pruneOptions(method), layerName);
    const at::Tensor removed = mask.logical_not();
    at::Tensor kept = w.masked_fill(removed, 0.0);
    CompressedWeight out;
    if (const int bits = static_cast<int>(method.integer("bits")); bits > 0) {
        // Zeros quantize to the zero point, which dequantises to exactly 0; the mask is applied
        // again anyway so that no rounding can revive a pruned weight.
        out = quantized(quantizeRtn(kept, bits, method.integer("group"), method.flag("sym")));
        out.weight.masked_fill_(removed, 0.0);
    } else {
        out.weight = kept;
    }
    out.mask = mask;
    out.sparsity = removed.sum().item<double>() / static_cast<double>(mask.numel());
    return out;
}

CompressedWeight keep(const MethodConfig&, const at::Tensor& w, const InputStats*,
                      const std::string&, const JobContext&) {
    CompressedWeight out;
    out.weight = w;
    return out;
}

CompressedWeight rtn(const MethodConfig& method, const at::Tensor& w, const InputStats*,
                     const std::string&, const JobContext&) {
    return quantized(quantizeRtn(w, static_cast<int>(method.integer("bits")),
                                 method.integer("group"), method.flag("sym")));
}

CompressedWeight gptq(const MethodConfig& method, const at::Tensor& w, const InputStats* stats,
                      const std::string& layerName, const JobContext& job) {
    GptqOptions options;
    options.bits = static_cast<int>(method.integer("bits"));
    options.groupSize = method.integer("group");
    options.symmetric = method.flag("sym");
    options.damp = method.real("damp");
    options.actOrder = method.flag("act_order");
    options.blockSize = method.integer("block");
    const InputStats& checked = checkedStats(stats, w.size(1), method.id(), layerName);
    return quantized(gptqQuantize(w, checked, options, layerName, job));
}

CompressedWeight magnitude(const MethodConfig& method, const at::Tensor& w, const InputStats*,
                           const std::string& layerName, const JobContext&) {
    return pruned(method, w, w.abs(), layerName);
}

CompressedWeight wanda(const MethodConfig& method, const at::Tensor& w, const InputStats* stats,
                       const std::string& layerName, const JobContext&) {
    const InputStats& checked = checkedStats(stats, w.size(1), method.id(), layerName);
    return pruned(method, w, wandaScores(w, checked.gram), layerName);
}

// llama.cpp's block types; a row that does not split into blocks of 32 is stored in float16,
// as llama-quantize does.
template <GgmlBlockType type>
CompressedWeight ggmlBlocks(const MethodConfig&, const at::Tensor& w, const InputStats*,
                            const std::string& layerName, const JobContext&) {
    if (!ggmlBlocksFit(w.size(1))) {
        CompressedWeight out;
        out.weight = w.to(at::kHalf).to(at::kFloat);
        return out;
    }
    return quantized(quantizeGgml(w, type, layerName));
}

using Compressor = CompressedWeight (*)(const MethodConfig&, const at::Tensor&, const InputStats*,
                                        const std::string&, const JobContext&);

// The implementation of every compression method of the registry, by id; tst_methods runs each
// registered id through compressWeight, so an entry missing here fails there.
Compressor compressorOf(const std::string& id) {
    static const std::map<std::string, Compressor, std::less<>> compressors{
        {"none", keep},
        {"rtn", rtn},
        {"gptq", gptq},
        {"magnitude", magnitude},
        {"wanda", wanda},
        {"q8_0", ggmlBlocks<GgmlBlockType::Q8_0>},
        {"q4_0", ggmlBlocks<GgmlBlockType::Q4_0>}};
    const auto it = compressors.find(id);
    return it == compressors.end() ? nullptr : it->second;
}

} // namespace

CompressedWeight compressWeight(const MethodConfig& method, const at::Tensor& weight,
                                const InputStats* stats, const std::string& layerName,
                                const JobContext& job) {
    if (method.kind() != MethodKind::Compression)
        fail(layerName, "'" + method.id() + "' is not a compression method");
    const Compressor compressor = compressorOf(method.id());
    if (!compressor)
        fail(layerName, "compression method '" + method.id() + "' is not implemented");
    return compressor(method, checkedWeight(weight, layerName), stats, layerName, job);
}

} // namespace rs
