#include "compress/compress.h"

#include "calib/stats.h"
#include "compress/gptq.h"
#include "compress/prune.h"
#include "compress/validate.h"
#include "util/error.h"

#include <ATen/ATen.h>

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

} // namespace

CompressedWeight compressWeight(const MethodConfig& method, const at::Tensor& weight,
                                const InputStats* stats, const std::string& layerName,
                                const JobContext& job) {
    if (method.kind() != MethodKind::Compression)
        fail(layerName, "'" + method.id() + "' is not a compression method");
    const at::Tensor w = checkedWeight(weight, layerName);
    const std::string& id = method.id();
    if (id == "none") {
        CompressedWeight out;
        out.weight = w;
        return out;
    }
    if (id == "rtn")
        return quantized(quantizeRtn(w, static_cast<int>(method.integer("bits")),
                                     method.integer("group"), method.flag("sym")));
    if (id == "gptq") {
        GptqOptions options;
        options.bits = static_cast<int>(method.integer("bits"));
        options.groupSize = method.integer("group");
        options.symmetric = method.flag("sym");
        options.damp = method.real("damp");
        options.actOrder = method.flag("act_order");
        options.blockSize = method.integer("block");
        const InputStats& checked = checkedStats(stats, w.size(1), id, layerName);
        return quantized(gptqQuantize(w, checked, options, layerName, job));
    }
    if (id == "magnitude")
        return pruned(method, w, w.abs(), layerName);
    if (id == "wanda") {
        const InputStats& checked = checkedStats(stats, w.size(1), id, layerName);
        return pruned(method, w, wandaScores(w, checked.gram), layerName);
    }
    fail(layerName, "compression method '" + id + "' is not implemented");
}

} // namespace rs
