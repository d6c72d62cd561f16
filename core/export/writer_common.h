#pragma once

// The machinery shared by the export writers (internal to core/export).
#include "export/export_writer.h"
#include "io/checkpoint.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

namespace rs {

class SafetensorsFile;

namespace exportfiles {

// A tensor an export writes, spilled to a scratch file until the final files are written.
struct Spilled {
    std::string name;
    std::shared_ptr<const SafetensorsFile> file;
};

// The source's config.json, key order kept.
nlohmann::ordered_json sourceConfig(const SourceModel& source);

void writeJson(const std::filesystem::path& path, const nlohmann::ordered_json& json);

// Copies the source's tokenizer and generation files byte for byte.
void copyModelFiles(const std::filesystem::path& dir, const SourceModel& source,
                    const JobContext& job);

// `tensors` as one safetensors file at `path`, read one at a time from their mappings.
void writeSpilled(const std::filesystem::path& path, const std::vector<Spilled>& tensors);

} // namespace exportfiles

// One format's writer: convert() turns a linear into the tensors it stores, finishFormat()
// writes what the format has beside the model weights (config.json, adapter, ...).
struct ExportWriter::Impl {
    Impl(std::filesystem::path dir, const ExportSettings& settings, const JobContext& job);
    virtual ~Impl();

    // Sees the linears of one add() (a whole decoder block) before any of them is converted.
    virtual void beginBatch(const std::vector<ExportLinear>& /*linears*/) {}
    // Appends the tensors standing for `linear`: to `weights` (the model file) or `adapter`.
    virtual void convert(const ExportLinear& linear, std::vector<NamedTensor>& weights,
                         std::vector<NamedTensor>& adapter) = 0;
    // Fails when what was added cannot make an export of this format (before anything is written).
    virtual void checkComplete() const {}
    // Called after the model weights are written.
    virtual void finishFormat() = 0;

    // Writes the model's weights file(s): the source's tensors the linears do not replace, then
    // the produced ones, as safetensors (GGUF writes its own single file).
    virtual void writeModelWeights();

    void add(const std::vector<ExportLinear>& linears);
    WrittenExport finish();
    // Source tensors the added linears replace ("<linear>.weight").
    const std::set<std::string>& replaced() const { return m_replaced; }

    std::filesystem::path dir;
    ExportSettings settings;
    JobContext job;
    at::ScalarType dtype; // of the produced tensors
    WrittenExport written;
    std::vector<exportfiles::Spilled> weights; // produced, in the order they came
    std::vector<exportfiles::Spilled> adapter;

private:
    std::vector<exportfiles::Spilled> spill(const std::vector<NamedTensor>& tensors);

    std::filesystem::path m_scratch;
    size_t m_spills = 0;
    std::set<std::string> m_replaced; // source tensors the linears replace
};

std::unique_ptr<ExportWriter::Impl>
makeGptqWriter(std::filesystem::path dir, const ExportSettings& settings, const JobContext& job);
std::unique_ptr<ExportWriter::Impl>
makeGgufWriter(std::filesystem::path dir, const ExportSettings& settings, const JobContext& job);

} // namespace rs
