#include "export/export_writer.h"

#include "export/source_model.h"
#include "export/writer_common.h"
#include "io/atomicfile.h"
#include "io/dtype.h"
#include "io/safetensorswriter.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <fstream>
#include <set>

namespace rs {

namespace fs = std::filesystem;

// Implemented in gptq_writer.cpp.
WrittenExport writeGptqPeft(const fs::path& dir, const ExportContent& content,
                            const JobContext& job);

namespace exportfiles {

namespace {
// Shards stay below what 32-bit tools and some file systems handle well.
constexpr uint64_t kShardBytes = uint64_t(4) << 30;
} // namespace

nlohmann::ordered_json sourceConfig(const SourceModel& source) {
    try {
        return nlohmann::ordered_json::parse(source.configJson);
    } catch (const nlohmann::json::exception& e) {
        fail((source.dir / "config.json").string(), std::string("not valid JSON: ") + e.what());
    }
}

std::vector<NamedTensor> untouchedTensors(const SourceModel& source,
                                          const std::vector<ExportLinear>& linears) {
    std::set<std::string> replaced;
    for (const ExportLinear& l : linears)
        replaced.insert(l.name + ".weight");
    std::vector<NamedTensor> out;
    for (const NamedTensor& t : source.tensors)
        if (!replaced.count(t.name))
            out.push_back(t);
    if (out.size() + replaced.size() != source.tensors.size())
        fail(source.dir.string(), "an exported linear has no weight in the checkpoint");
    return out;
}

void writeWeights(const fs::path& dir, const std::vector<NamedTensor>& tensors,
                  const JobContext& job) {
    job.cancel.throwIfCancelled();
    uint64_t total = 0;
    for (const NamedTensor& t : tensors)
        total += t.tensor.nbytes();
    job.report("write", 0, 0, "model weights");
    if (total <= kShardBytes)
        writeSafetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});
    else
        writeShardedSafetensors(dir, tensors, kShardBytes, {{"format", "pt"}});
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

at::ScalarType produced(const ExportContent& content) {
    const auto type = parseFloatDtype(content.dtype);
    if (!type)
        fail("export",
             "unsupported dtype '" + content.dtype + "' (supported: float32, bfloat16, float16)");
    return *type;
}

} // namespace exportfiles

namespace {

using namespace exportfiles;

void checkLinear(const ExportLinear& l) {
    if (!l.base.defined() && l.factors.rank() == 0)
        fail(l.name, "has neither a dense weight nor low-rank factors to export");
}

int64_t weightsOf(const ExportLinear& l) {
    return l.base.defined() ? l.base.numel() : l.factors.B.size(0) * l.factors.A.size(1);
}

WrittenExport writeMerged(const fs::path& dir, const ExportContent& content,
                          const JobContext& job) {
    const at::ScalarType dtype = produced(content);
    WrittenExport written;
    std::vector<NamedTensor> tensors = untouchedTensors(*content.source, content.linears);
    for (const ExportLinear& l : content.linears) {
        checkLinear(l);
        job.cancel.throwIfCancelled();
        at::Tensor w = l.base.defined() ? l.base.to(at::kCPU, at::kFloat)
                                        : at::zeros({l.factors.B.size(0), l.factors.A.size(1)});
        if (l.factors.rank() > 0)
            w = w + at::matmul(l.factors.B.to(at::kCPU, at::kFloat),
                               l.factors.A.to(at::kCPU, at::kFloat));
        tensors.push_back({l.name + ".weight", w.to(dtype).contiguous()});
        written.linearBytes += tensors.back().tensor.nbytes();
        written.linearWeights += weightsOf(l);
    }
    writeWeights(dir, tensors, job);
    nlohmann::ordered_json config = sourceConfig(*content.source);
    config["torch_dtype"] = content.dtype;
    writeJson(dir / "config.json", config);
    copyModelFiles(dir, *content.source, job);
    return written;
}

WrittenExport writeFactorized(const fs::path& dir, const ExportContent& content,
                              const JobContext& job) {
    const at::ScalarType dtype = produced(content);
    WrittenExport written;
    std::vector<NamedTensor> tensors = untouchedTensors(*content.source, content.linears);
    nlohmann::ordered_json ranks = nlohmann::ordered_json::object();
    nlohmann::ordered_json dense = nlohmann::ordered_json::array();
    for (const ExportLinear& l : content.linears) {
        checkLinear(l);
        job.cancel.throwIfCancelled();
        const auto add = [&](const std::string& name, const at::Tensor& t) {
            tensors.push_back({name, t.to(at::kCPU, dtype).contiguous()});
            written.linearBytes += tensors.back().tensor.nbytes();
        };
        if (l.base.defined()) {
            add(l.name + ".weight", l.base);
            dense.push_back(l.name);
        }
        if (l.factors.rank() > 0) {
            add(factorTensorName(l.name, 0), l.factors.A);
            add(factorTensorName(l.name, 1), l.factors.B);
            ranks[l.name] = l.factors.rank();
        }
        written.linearWeights += weightsOf(l);
    }
    writeWeights(dir, tensors, job);
    nlohmann::ordered_json config = sourceConfig(*content.source);
    config["torch_dtype"] = content.dtype;
    config[kFactorizationField] = {
        {"version", 1},
        {"layer", "y = <m>.low_rank.1(<m>.low_rank.0(x)) [+ <m>(x) when <m>.weight exists] "
                  "[+ <m>.bias]"},
        {"ranks", ranks},
        {"dense_base", dense}};
    writeJson(dir / "config.json", config);
    copyModelFiles(dir, *content.source, job);
    return written;
}

} // namespace

WrittenExport writeExport(const fs::path& dir, ExportFormat format, const ExportContent& content,
                          const JobContext& job) {
    if (!content.source)
        fail(dir.string(), "nothing to export (no source model)");
    switch (format) {
    case ExportFormat::Merged:
        return writeMerged(dir, content, job);
    case ExportFormat::GptqPeft:
        return writeGptqPeft(dir, content, job);
    case ExportFormat::Factorized:
        return writeFactorized(dir, content, job);
    }
    fail(dir.string(), "unknown export format");
}

} // namespace rs
