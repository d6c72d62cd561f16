#include "export/space_estimate.h"

#include "formats/gptq_pack.h"
#include "methods/registry.h"
#include "util/text.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace rs {

namespace {

// Bytes of one quantized linear in the GPTQ layout: packed codes, a float16 scale and a packed
// zero per group and output row, and the group index (int32) of every input column.
uint64_t gptqBytes(uint64_t out, uint64_t in, uint64_t bits, uint64_t group) {
    const uint64_t groups = (in + group - 1) / group;
    return out * in * bits / 8 + groups * out * (16 + bits) / 8 + in * 4;
}

bool isDecoderLinear(const std::string& tensorName) {
    return tensorName.ends_with("_proj.weight");
}

// The fused group of a linear's weight tensor, or the linear itself when it is never fused.
std::string groupOf(const std::string& weightName) {
    const std::string linear =
        weightName.substr(0, weightName.size() - std::string(".weight").size());
    const std::string group = fusedGroup(linear);
    return group.empty() ? linear : group;
}

} // namespace

SpaceEstimate estimateExportSpace(const SourceModel& source, ExportFormat format,
                                  const std::string& dtype, const MethodConfig& compression,
                                  int64_t adapterParameters) {
    const uint64_t element = dtype == "float32" ? 4 : 2;
    const auto& values = compression.values();
    const int bits = values.count("bits") ? static_cast<int>(compression.integer("bits")) : 0;
    const int64_t group = values.count("group") ? compression.integer("group") : -1;
    const auto denseBytes = [element](const at::Tensor& w) {
        return w.is_floating_point() ? static_cast<uint64_t>(w.numel()) * element : w.nbytes();
    };

    // GPTQ keeps a linear dense when its shape cannot be packed, and with it its fused siblings.
    std::set<std::string> denseGroups;
    if (format == ExportFormat::GptqPeft)
        for (const NamedTensor& t : source.files.tensors)
            if (isDecoderLinear(t.name) && t.tensor.dim() == 2 &&
                (bits == 0 ||
                 gptqShapeIncompatibility(bits, t.tensor.size(0), t.tensor.size(1), group)))
                denseGroups.insert(groupOf(t.name));

    SpaceEstimate e;
    for (const NamedTensor& t : source.files.tensors) {
        const at::Tensor& w = t.tensor;
        if (!isDecoderLinear(t.name) || w.dim() != 2) {
            e.exportBytes += denseBytes(w);
            continue;
        }
        const bool packed = format == ExportFormat::GptqPeft && !denseGroups.count(groupOf(t.name));
        const auto out = static_cast<uint64_t>(w.size(0)), in = static_cast<uint64_t>(w.size(1));
        const uint64_t linear = packed ? gptqBytes(out, in, static_cast<uint64_t>(bits),
                                                   group > 0 ? static_cast<uint64_t>(group) : in)
                                       : denseBytes(w);
        e.exportBytes += linear;
        e.scratchBytes += linear;
    }
    // The merged formats fold the low-rank path into W; the others store its factors.
    if (format == ExportFormat::GptqPeft || format == ExportFormat::Factorized) {
        const uint64_t adapter =
            static_cast<uint64_t>(std::max<int64_t>(adapterParameters, 0)) * element;
        e.exportBytes += adapter;
        e.scratchBytes += adapter;
    }
    for (const std::filesystem::path& f : source.extraFiles)
        e.exportBytes += std::filesystem::file_size(f);
    // Headers, the config, the card and the manifest are small; 1 MiB and 1 % cover them and the
    // file system's block rounding.
    e.marginBytes = (uint64_t(1) << 20) + (e.exportBytes + e.scratchBytes) / 100;
    return e;
}

std::string describeSpace(const SpaceEstimate& estimate) {
    return formatBytes(estimate.total()) + " (" + formatBytes(estimate.exportBytes) +
           " of export, " + formatBytes(estimate.scratchBytes) + " of scratch copies, " +
           formatBytes(estimate.marginBytes) + " margin)";
}

} // namespace rs
