#pragma once

#include "io/mappedfile.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <variant>
#include <vector>

// GGUF version 3, the file format llama.cpp loads (docs/design.md §3): a header, metadata
// key/values, tensor infos, then the tensor data, each tensor starting at a multiple of the
// alignment. Written from the specification and the rules llama.cpp's reader enforces on top of
// it: metadata integers have the exact type the reader asks for, tensor names are at most 63
// bytes, tensor offsets are the running sum of the padded sizes in info order, and the data of
// every tensor (the last one too) is padded to the alignment.
namespace rs::gguf {

inline constexpr uint32_t kVersion = 3;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr size_t kMaxNameBytes = 63;

// ggml's tensor types that RankScope writes (their numbers are the file's).
enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };

const char* typeName(TensorType type);  // "F32", "Q4_0", ...
int64_t blockElements(TensorType type); // 1 for F32/F16, 32 for Q4_0/Q8_0
uint64_t blockBytes(TensorType type);   // 4, 2, 18, 34

// A metadata value, in the GGUF types RankScope writes: UINT32, INT32, FLOAT32, BOOL, STRING,
// UINT64, and arrays of strings, float32 and int32 (nested arrays are not readable by ggml).
using Value = std::variant<uint32_t, int32_t, float, bool, std::string, uint64_t,
                           std::vector<std::string>, std::vector<float>, std::vector<int32_t>>;

struct KeyValue {
    std::string key;
    Value value;
};

// A tensor as PyTorch shapes it ([d_out, d_in] for a linear); the file stores the dimensions
// reversed (ggml's ne[0] is the contiguous one), the bytes unchanged.
struct TensorInfo {
    std::string name;
    std::vector<int64_t> shape;
    TensorType type = TensorType::F32;

    uint64_t byteSize() const; // fails unless the last dimension splits into whole blocks
};

// Produces the encoded bytes of tensors[index] (exactly its byteSize()), asked for in file order,
// so that only one tensor is in memory at a time.
using TensorBytes = std::function<std::vector<uint8_t>(size_t index)>;

// Writes the file atomically (a failure leaves nothing at `path`). Fails "<path>: <problem>" for
// an empty or duplicate key or tensor name, a name over 63 bytes, a shape the type cannot hold,
// produced bytes of the wrong size, or an I/O error.
void write(const std::filesystem::path& path, const std::vector<KeyValue>& metadata,
           const std::vector<TensorInfo>& tensors, const TensorBytes& produce,
           uint32_t alignment = kDefaultAlignment);

// A GGUF file opened for reading, its data memory-mapped.
class File {
public:
    // Fails "<path>: <problem>" for a wrong magic or version, a truncated file, an unknown value
    // or tensor type, or tensor data outside the file.
    static File open(const std::filesystem::path& path);

    uint32_t version() const { return m_version; }
    uint32_t alignment() const { return m_alignment; }
    const std::vector<KeyValue>& metadata() const { return m_metadata; }
    const std::vector<TensorInfo>& tensors() const { return m_tensors; }
    const Value* find(const std::string& key) const;
    // The stored bytes of tensors()[index].
    std::span<const std::byte> data(size_t index) const;
    uint64_t dataOffset() const { return m_dataOffset; }

private:
    MappedFile m_file;
    uint32_t m_version = 0;
    uint32_t m_alignment = kDefaultAlignment;
    std::vector<KeyValue> m_metadata;
    std::vector<TensorInfo> m_tensors;
    std::vector<uint64_t> m_offsets; // relative to the data section
    uint64_t m_dataOffset = 0;
};

} // namespace rs::gguf
