#include "io/checkpoint.h"

#include "io/dtype.h"
#include "io/hfmodel.h"
#include "io/llama2c.h"
#include "io/safetensors.h"
#include "util/error.h"

namespace rs {

const at::Tensor* Checkpoint::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name)
            return &t.tensor;
    return nullptr;
}

const at::Tensor& Checkpoint::require(const std::string& name) const {
    const at::Tensor* t = find(name);
    if (!t)
        fail(source.string(), "missing tensor " + name);
    return *t;
}

at::Tensor Checkpoint::read(const std::string& name) const {
    if (const auto it = deferred.find(name); it != deferred.end())
        return it->second.compute();
    return require(name);
}

void Checkpoint::releasePages(const std::string& name) const {
    if (const auto it = deferred.find(name); it != deferred.end()) {
        for (const std::string& source : it->second.reads)
            releasePages(source);
        return;
    }
    if (const auto it = mappedFiles.find(name); it != mappedFiles.end())
        it->second->releasePages(name);
}

void Checkpoint::checkFilesIntact() const {
    for (const auto& shard : shards)
        shard->checkNotTruncated();
}

namespace {

Checkpoint readCheckpoint(const std::filesystem::path& path,
                          std::optional<at::ScalarType> floatType) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return loadHfModelDir(path, floatType);
    if (path.extension() == ".bin") {
        if (!std::filesystem::exists(path, ec))
            fail(path.string(), "no such file");
        return loadLlama2c(path, floatType.value_or(at::kFloat));
    }
    if (!std::filesystem::exists(path, ec))
        fail(path.string(), "no such file or directory");
    fail(path.string(), "not a checkpoint: expected a Hugging Face model directory "
                        "(config.json + model.safetensors) or a llama2.c .bin file");
}

} // namespace

Checkpoint loadCheckpoint(const std::filesystem::path& path, const std::string& dtype) {
    const auto floatType = parseFloatDtype(dtype);
    if (!floatType)
        fail(path.string(),
             "unsupported dtype '" + dtype + "' (supported: float32, bfloat16, float16)");
    return readCheckpoint(path, floatType);
}

Checkpoint openCheckpoint(const std::filesystem::path& path) {
    return readCheckpoint(path, std::nullopt);
}

} // namespace rs
