#include "export/export_writer.h"

#include "export/source_model.h"
#include "export/writer_common.h"
#include "io/atomicfile.h"
#include "io/dtype.h"
#include "io/safetensors.h"
#include "io/safetensorswriter.h"
#include "model/llama.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <cstdio>
#include <fstream>

namespace rs {

namespace fs = std::filesystem;
using exportfiles::Spilled;

namespace exportfiles {

namespace {
// Shards stay below what 32-bit tools and some file systems handle well.
constexpr uint64_t kShardBytes = uint64_t(4) << 30;
// Where the converted tensors wait for the final files; removed before the export is done.
constexpr const char* kScratchDir = ".scratch";
} // namespace

nlohmann::ordered_json sourceConfig(const SourceModel& source) {
    try {
        return nlohmann::ordered_json::parse(source.configJson);
    } catch (const nlohmann::json::exception& e) {
        fail((source.dir / "config.json").string(), std::string("not valid JSON: ") + e.what());
    }
}

void writeJson(const fs::path& path, const nlohmann::ordered_json& json) {
    writeFileAtomically(path, json.dump(2) + "\n");
}

void copyModelFiles(const fs::path& dir, const SourceModel& source, const JobContext& job) {
    for (const fs::path& from : source.extraFiles) {
        job.cancel.throwIfCancelled();
        job.report("write", 0, 0, from.filename().string());
        std::ifstream in(from, std::ios::binary);
        if (!in)
            fail(from.string(), "cannot be read");
        AtomicFile out(dir / from.filename());
        std::vector<char> buffer(size_t(1) << 20);
        while (in) {
            in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
            out.write(buffer.data(), static_cast<size_t>(in.gcount()));
        }
        if (in.bad())
            fail(from.string(), "read failed");
        out.commit();
    }
}

namespace {

TensorPlan planOf(const Spilled& t) {
    const TensorInfo& info = t.file->info(t.name);
    return {t.name, info.dtype, info.shape};
}

// Reads tensor `index` from its mapping and lets the pages of the one before go.
TensorProducer mappedProducer(const std::vector<Spilled>& tensors) {
    return [&tensors, last = std::optional<size_t>()](size_t index) mutable {
        if (last)
            tensors[*last].file->releasePages(tensors[*last].name);
        last = index;
        return mappedTensor(tensors[index].file, tensors[index].name);
    };
}

} // namespace

void writeSpilled(const fs::path& path, const std::vector<Spilled>& tensors) {
    std::vector<TensorPlan> plans;
    for (const Spilled& t : tensors)
        plans.push_back(planOf(t));
    writeSafetensorsStreamed(path, plans, mappedProducer(tensors), {{"format", "pt"}});
}

} // namespace exportfiles

ExportWriter::Impl::Impl(fs::path dir_, const ExportSettings& settings_, const JobContext& job_)
    : dir(std::move(dir_))
    , settings(settings_)
    , job(job_)
    , m_scratch(dir / exportfiles::kScratchDir) {
    if (!settings.source)
        fail(dir.string(), "nothing to export (no source model)");
    const auto type = parseFloatDtype(settings.dtype);
    if (!type)
        fail("export",
             "unsupported dtype '" + settings.dtype + "' (supported: float32, bfloat16, float16)");
    dtype = *type;
}

ExportWriter::Impl::~Impl() {
    std::error_code ec;
    fs::remove_all(m_scratch, ec); // a failed or cancelled export leaves no scratch behind
}

std::vector<Spilled> ExportWriter::Impl::spill(const std::vector<NamedTensor>& tensors) {
    if (tensors.empty())
        return {};
    fs::create_directories(m_scratch);
    char name[32];
    std::snprintf(name, sizeof name, "part-%05zu.safetensors", ++m_spills);
    const fs::path path = m_scratch / name;
    writeSafetensors(path, tensors);
    const auto file = std::make_shared<const SafetensorsFile>(SafetensorsFile::open(path));
    std::vector<Spilled> out;
    for (const NamedTensor& t : tensors)
        out.push_back({t.name, file});
    return out;
}

void ExportWriter::Impl::add(const std::vector<ExportLinear>& linears) {
    beginBatch(linears);
    std::vector<NamedTensor> weightTensors, adapterTensors;
    for (const ExportLinear& l : linears) {
        job.cancel.throwIfCancelled();
        const std::string replaced = l.name + ".weight";
        if (!settings.source->files.find(replaced))
            fail(settings.source->dir.string(),
                 "the exported linear " + l.name + " has no weight in the checkpoint");
        if (!m_replaced.insert(replaced).second)
            fail(l.name, "is exported twice");
        convert(l, weightTensors, adapterTensors);
    }
    for (Spilled& s : spill(weightTensors))
        weights.push_back(std::move(s));
    for (Spilled& s : spill(adapterTensors))
        adapter.push_back(std::move(s));
}

void ExportWriter::Impl::writeModelWeights() {
    job.cancel.throwIfCancelled();
    job.report("write", 0, 0, "model weights");
    // The source's own tensors first, in their order, then the produced ones.
    std::vector<Spilled> tensors;
    const Checkpoint& files = settings.source->files;
    for (const NamedTensor& t : files.tensors)
        if (!m_replaced.count(t.name))
            tensors.push_back({t.name, files.mappedFiles.at(t.name)});
    tensors.insert(tensors.end(), weights.begin(), weights.end());
    std::vector<TensorPlan> plans;
    uint64_t total = 0;
    for (const Spilled& t : tensors) {
        plans.push_back(exportfiles::planOf(t));
        total += plans.back().byteSize();
    }
    const TensorProducer produce =
        [&, read = exportfiles::mappedProducer(tensors)](size_t index) mutable {
            job.cancel.throwIfCancelled();
            return read(index);
        };
    if (total <= exportfiles::kShardBytes)
        writeSafetensorsStreamed(dir / "model.safetensors", plans, produce, {{"format", "pt"}});
    else
        writeShardedSafetensorsStreamed(dir, plans, produce, exportfiles::kShardBytes,
                                        {{"format", "pt"}});
}

WrittenExport ExportWriter::Impl::finish() {
    checkComplete();
    writeModelWeights();
    finishFormat();
    exportfiles::copyModelFiles(dir, *settings.source, job);
    weights.clear();
    adapter.clear();
    std::error_code ec;
    fs::remove_all(m_scratch, ec);
    if (ec)
        fail(m_scratch.string(), "cannot be removed: " + ec.message());
    return written;
}

namespace {

using namespace exportfiles;

void checkLinear(const ExportLinear& l) {
    if (!l.base.defined() && l.factors.rank() == 0)
        fail(l.name, "has neither a dense weight nor low-rank factors to export");
}

int64_t weightsOf(const ExportLinear& l) {
    return l.base.defined() ? l.base.numel() : l.factors.B.size(0) * l.factors.A.size(1);
}

class MergedWriter : public ExportWriter::Impl {
public:
    using Impl::Impl;

    void convert(const ExportLinear& l, std::vector<NamedTensor>& out,
                 std::vector<NamedTensor>&) override {
        checkLinear(l);
        at::Tensor w = l.base.defined() ? l.base.to(at::kCPU, at::kFloat)
                                        : at::zeros({l.factors.B.size(0), l.factors.A.size(1)});
        if (l.factors.rank() > 0)
            w = w + at::matmul(l.factors.B.to(at::kCPU, at::kFloat),
                               l.factors.A.to(at::kCPU, at::kFloat));
        out.push_back({l.name + ".weight", w.to(dtype).contiguous()});
        written.linearBytes += out.back().tensor.nbytes();
        written.linearWeights += weightsOf(l);
    }

    void finishFormat() override {
        nlohmann::ordered_json config = sourceConfig(*settings.source);
        config["torch_dtype"] = settings.dtype;
        writeJson(dir / "config.json", config);
    }
};

class FactorizedWriter : public ExportWriter::Impl {
public:
    using Impl::Impl;

    void convert(const ExportLinear& l, std::vector<NamedTensor>& out,
                 std::vector<NamedTensor>&) override {
        checkLinear(l);
        const auto add = [&](const std::string& name, const at::Tensor& t) {
            out.push_back({name, t.to(at::kCPU, dtype).contiguous()});
            written.linearBytes += out.back().tensor.nbytes();
        };
        if (l.base.defined()) {
            add(l.name + ".weight", l.base);
            m_dense.push_back(l.name);
        }
        if (l.factors.rank() > 0) {
            add(lowRankTensorName(l.name, 0), l.factors.A);
            add(lowRankTensorName(l.name, 1), l.factors.B);
            m_ranks[l.name] = l.factors.rank();
        }
        written.linearWeights += weightsOf(l);
    }

    void finishFormat() override {
        nlohmann::ordered_json config = sourceConfig(*settings.source);
        config["torch_dtype"] = settings.dtype;
        config[kFactorizationField] = {
            {"version", 1},
            {"layer", "y = <m>.low_rank.1(<m>.low_rank.0(x)) [+ <m>(x) when <m>.weight exists] "
                      "[+ <m>.bias]"},
            {"ranks", m_ranks},
            {"dense_base", m_dense}};
        writeJson(dir / "config.json", config);
    }

private:
    nlohmann::ordered_json m_ranks = nlohmann::ordered_json::object();
    nlohmann::ordered_json m_dense = nlohmann::ordered_json::array();
};

} // namespace

ExportWriter::ExportWriter(fs::path dir, ExportFormat format, const ExportSettings& settings,
                           const JobContext& job) {
    switch (format) {
    case ExportFormat::Merged:
        m_impl = std::make_unique<MergedWriter>(std::move(dir), settings, job);
        return;
    case ExportFormat::GptqPeft:
        m_impl = makeGptqWriter(std::move(dir), settings, job);
        return;
    case ExportFormat::Factorized:
        m_impl = std::make_unique<FactorizedWriter>(std::move(dir), settings, job);
        return;
    case ExportFormat::Gguf:
        m_impl = makeGgufWriter(std::move(dir), settings, job);
        return;
    }
    fail(dir.string(), "unknown export format");
}

ExportWriter::~ExportWriter() = default;

void ExportWriter::add(const std::vector<ExportLinear>& linears) {
    m_impl->add(linears);
}

WrittenExport ExportWriter::finish() {
    return m_impl->finish();
}

WrittenExport writeExport(const fs::path& dir, ExportFormat format, const ExportContent& content,
                          const JobContext& job) {
    ExportWriter writer(dir, format, content, job);
    writer.add(content.linears);
    return writer.finish();
}

} // namespace rs
