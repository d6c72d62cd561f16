#pragma once

#include "io/dtype.h"
#include "io/mappedfile.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace rs {

// One entry of a safetensors header.
struct TensorInfo {
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0; // byte range in the data buffer (which starts right after the header)
    uint64_t end = 0;

    int64_t numel() const;
    uint64_t byteSize() const { return end - begin; }
};

// A memory-mapped, fully validated safetensors file: the header length is bounded and checked
// against the file size, and every tensor's byte range is in bounds, matches dtype x shape, and
// the ranges tile the data buffer without gaps or overlaps. Nothing is read until asked for.
class SafetensorsFile {
public:
    static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

    // Fails with "<path>: <problem>" for anything that is not a well-formed safetensors file.
    static SafetensorsFile open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_file.path(); }
    // Tensor names in the order their bytes appear in the file.
    const std::vector<std::string>& names() const { return m_names; }
    bool contains(const std::string& name) const { return m_infos.count(name) > 0; }
    // Fails with "<path>: missing tensor <name>" when absent.
    const TensorInfo& info(const std::string& name) const;
    // A view of the tensor's raw little-endian bytes; valid only while this object lives.
    std::span<const std::byte> bytes(const std::string& name) const;
    // The "__metadata__" string map (empty when the file has none).
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    // Total bytes of tensor data (the file size minus the 8-byte prefix and the header).
    uint64_t dataSize() const { return m_file.size() - m_dataOffset; }

    // Copies the tensor out of the mapping into a tensor that owns its memory. Floating tensors
    // are converted to `floatType` when it is given (e.g. BF16 on disk -> float32).
    at::Tensor tensor(const std::string& name,
                      std::optional<at::ScalarType> floatType = std::nullopt) const;

    // Drops the tensor's pages from the resident set (see MappedFile::releasePages).
    void releasePages(const std::string& name) const;
    // Fails, naming the file, when it shrank after it was opened (see MappedFile).
    void checkNotTruncated() const { m_file.checkNotTruncated(); }

private:
    MappedFile m_file;
    uint64_t m_dataOffset = 0;
    std::vector<std::string> m_names;
    std::unordered_map<std::string, TensorInfo> m_infos;
    std::map<std::string, std::string> m_metadata;
};

// The tensor read in place from the mapping, in its stored dtype, with no copy: `file` stays
// mapped while the tensor lives. The memory is read-only (writing to it faults), so callers
// convert or clone before changing anything. Falls back to a copy when the bytes are not aligned
// to the element size (or the dtype is BOOL, whose bytes torch must normalise).
at::Tensor mappedTensor(const std::shared_ptr<const SafetensorsFile>& file,
                        const std::string& name);

} // namespace rs
