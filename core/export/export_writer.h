#pragma once

#include "compensate/compensation.h"
#include "compress/quantgrid.h"
#include "formats/export_format.h"
#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rs {

struct SourceModel;

// One decoder linear as an export writes it. Generic on purpose: a compensated compression is a
// dense base plus a factor pair, a LoRD or Lillama result is a factor pair without a base.
struct ExportLinear {
    std::string name;              // "model.layers.0.self_attn.q_proj"
    at::Tensor base;               // W_c [d_out, d_in]; undefined: the layer is its factors alone
    std::optional<QuantGrid> grid; // the grid `base` was dequantized from (quantizers only)
    LowRankFactors factors;        // y += B (A x); rank 0: none
};

// What every export shares, whatever its linears.
struct ExportSettings {
    const SourceModel* source = nullptr;
    std::string dtype = "float32"; // of the tensors the export produces (copies keep theirs)
    std::string adapterBase;       // base_model_name_or_path of the PEFT adapter
};

// A whole export in memory (small models, tests); ExportWriter takes it block by block.
struct ExportContent : ExportSettings {
    std::vector<ExportLinear> linears; // the replaced linears; every other tensor is copied
};

struct WrittenExport {
    // GPTQ: linears kept dense (W_c in `dtype`) with the reason the format cannot hold them.
    std::vector<std::pair<std::string, std::string>> denseLayers;
    int64_t quantizedLayers = 0;
    // What a user must know to load the export in a given runtime (GPTQ: which kernel vLLM
    // picks, loaders that would misread it), printed by the CLI and written in the model card.
    std::vector<std::string> runtimeNotes;
    uint64_t linearBytes = 0;  // stored bytes of everything standing for the decoder linears
    int64_t linearWeights = 0; // sum of d_out * d_in over those linears
};

// Writes the export files into `dir` (an empty directory): model weights, config.json (the
// source's, with only the fields the format needs changed or added), tokenizer and generation
// files copied unchanged, and per format:
// - merged: every linear as one dense weight W_c + B A in `dtype`;
// - gptq+peft: quantized linears as qweight/qzeros/scales/g_idx (GPTQ v1), the others dense and
//   listed in quantization_config, quantize_config.json, and the factors as a PEFT LoRA adapter
//   in dir/adapter (every scale alpha / r = 1);
// - factorized: <m>.weight (the dense base, when there is one) and the factor pair as two
//   linears <m>.low_rank.0.weight = A [r, d_in] and <m>.low_rank.1.weight = B [d_out, r], with
//   the ranks in config.json's "rankscope_factorization".
//
// Block by block: add() turns the linears it is given (one block's) into the tensors the format
// stores and spills them to a scratch file in `dir`, so memory holds one block; finish() writes
// the model's files one tensor at a time from the mappings of the source and the scratch files,
// then removes the scratch. Reports progress (stage "write") and honours cancellation.
class ExportWriter {
public:
    ExportWriter(std::filesystem::path dir, ExportFormat format, const ExportSettings& settings,
                 const JobContext& job = {});
    ExportWriter(const ExportWriter&) = delete;
    ExportWriter& operator=(const ExportWriter&) = delete;
    ~ExportWriter();

    void add(const std::vector<ExportLinear>& linears);
    WrittenExport finish();

    struct Impl; // per format, in export_writer.cpp and gptq_writer.cpp

private:
    std::unique_ptr<Impl> m_impl;
};

// All of `content` at once through an ExportWriter.
WrittenExport writeExport(const std::filesystem::path& dir, ExportFormat format,
                          const ExportContent& content, const JobContext& job = {});

} // namespace rs
