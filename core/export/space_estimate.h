#pragma once

#include "export/source_model.h"
#include "formats/export_format.h"

#include <cstdint>
#include <string>

namespace rs {

class MethodConfig;

// The disk space an export takes while it is written: its final files, and the scratch copies of
// the compressed linears, which live beside them until the model file is assembled.
struct SpaceEstimate {
    uint64_t exportBytes = 0;  // the finished export
    uint64_t scratchBytes = 0; // freed when the export finishes
    uint64_t marginBytes = 0;  // file-system overhead, headers, the model card
    uint64_t total() const { return exportBytes + scratchBytes + marginBytes; }
};

// Computed from the source's tensor shapes, the export's dtype, the format (GPTQ packs quantized
// linears in `bits` per weight plus a scale and a zero per group) and the variant's adapter
// parameters. GGUF is counted at the export dtype, an upper bound of its Q4_0/Q8_0 tensors.
SpaceEstimate estimateExportSpace(const SourceModel& source, ExportFormat format,
                                  const std::string& dtype, const MethodConfig& compression,
                                  int64_t adapterParameters);

// "12.3 MiB (10.1 MiB of export, 2.0 MiB of scratch copies, 0.2 MiB margin)"
std::string describeSpace(const SpaceEstimate& estimate);

} // namespace rs
