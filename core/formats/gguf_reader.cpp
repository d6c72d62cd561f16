// Reading GGUF back: for RankScope's own checks of what it wrote, and to open such a file.
#include "formats/gguf.h"
#include "util/error.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace rs::gguf {

namespace {

// Reads little-endian fields from the mapped file, failing on the first byte past its end.
class Decoder {
public:
    Decoder(const std::filesystem::path& path, std::span<const std::byte> bytes)
        : m_path(path.string())
        , m_bytes(bytes) {}

    template <typename T> T get() {
        T value;
        std::memcpy(&value, take(sizeof value), sizeof value);
        return value;
    }
    std::string string() {
        const auto size = get<uint64_t>();
        if (size > m_bytes.size())
            truncated();
        const auto* p = reinterpret_cast<const char*>(take(size));
        return {p, static_cast<size_t>(size)};
    }
    Value value(uint32_t type) {
        switch (type) {
        case 4:
            return get<uint32_t>();
        case 5:
            return get<int32_t>();
        case 6:
            return get<float>();
        case 7:
            return get<uint8_t>() != 0;
        case 8:
            return string();
        case 9:
            return array();
        case 10:
            return get<uint64_t>();
        default:
            fail(m_path,
                 "metadata value type " + std::to_string(type) + " is not one RankScope reads");
        }
    }
    uint64_t position() const { return m_position; }

private:
    Value array() {
        const auto element = get<uint32_t>();
        const auto count = get<uint64_t>();
        if (count > m_bytes.size())
            truncated();
        switch (element) {
        case 5: {
            std::vector<int32_t> out(count);
            for (int32_t& x : out)
                x = get<int32_t>();
            return out;
        }
        case 6: {
            std::vector<float> out(count);
            for (float& x : out)
                x = get<float>();
            return out;
        }
        case 8: {
            std::vector<std::string> out(count);
            for (std::string& x : out)
                x = string();
            return out;
        }
        default:
            fail(m_path, "arrays of value type " + std::to_string(element) +
                             " are not ones RankScope reads");
        }
    }
    const std::byte* take(uint64_t size) {
        if (size > m_bytes.size() - m_position)
            truncated();
        const std::byte* p = m_bytes.data() + m_position;
        m_position += size;
        return p;
    }
    [[noreturn]] void truncated() const {
        fail(m_path, "truncated GGUF file (ends inside its header at byte " +
                         std::to_string(m_bytes.size()) + ")");
    }

    std::string m_path;
    std::span<const std::byte> m_bytes;
    uint64_t m_position = 0;
};

std::string shapeText(const std::vector<int64_t>& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

TensorType tensorType(const std::filesystem::path& path, const std::string& name, uint32_t type) {
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::Q4_0, TensorType::Q8_0})
        if (static_cast<uint32_t>(t) == type)
            return t;
    fail(path.string(), "tensor '" + name + "' has ggml type " + std::to_string(type) +
                            ", which RankScope does not read (F32, F16, Q4_0, Q8_0)");
}

// The tensor's size in bytes, failing (naming the file) for a dimension that is not positive or a
// size that does not fit in 64 bits, which would otherwise wrap around and pass the bounds check.
uint64_t storedBytes(const std::filesystem::path& path, const TensorInfo& t) {
    uint64_t elements = 1;
    for (const int64_t d : t.shape)
        if (d <= 0 || __builtin_mul_overflow(elements, static_cast<uint64_t>(d), &elements))
            fail(path.string(),
                 "tensor '" + t.name + "' has the impossible shape " + shapeText(t.shape));
    if (t.shape.back() % blockElements(t.type) != 0)
        fail(path.string(), "tensor '" + t.name + "' of type " + typeName(t.type) +
                                " has rows of " + std::to_string(t.shape.back()) +
                                " values, not a multiple of its block of " +
                                std::to_string(blockElements(t.type)));
    return t.byteSize();
}

} // namespace

File File::open(const std::filesystem::path& path) {
    File out;
    out.m_file = MappedFile::open(path);
    Decoder in(path, out.m_file.bytes());
    if (out.m_file.size() < 4 || std::memcmp(out.m_file.data(), "GGUF", 4) != 0)
        fail(path.string(), "not a GGUF file (no GGUF magic)");
    in.get<uint32_t>(); // the magic
    out.m_version = in.get<uint32_t>();
    if (out.m_version != kVersion)
        fail(path.string(),
             "GGUF version " + std::to_string(out.m_version) + " (RankScope reads version 3)");
    const auto tensorCount = in.get<uint64_t>();
    const auto metadataCount = in.get<uint64_t>();
    for (uint64_t i = 0; i < metadataCount; ++i) {
        std::string key = in.string();
        Value value = in.value(in.get<uint32_t>());
        if (key == "general.alignment") {
            const auto* a = std::get_if<uint32_t>(&value);
            if (!a || *a == 0 || (*a & (*a - 1)) != 0)
                fail(path.string(), "general.alignment must be a power of two (uint32)");
            out.m_alignment = *a;
        }
        out.m_metadata.push_back({std::move(key), std::move(value)});
    }
    for (uint64_t i = 0; i < tensorCount; ++i) {
        TensorInfo info;
        info.name = in.string();
        const auto dims = in.get<uint32_t>();
        if (dims == 0 || dims > 4)
            fail(path.string(),
                 "tensor '" + info.name + "' has " + std::to_string(dims) + " dimensions (1 to 4)");
        info.shape.assign(dims, 0);
        for (uint32_t d = 0; d < dims; ++d) {
            const auto extent = in.get<uint64_t>();
            if (extent > uint64_t(std::numeric_limits<int64_t>::max()))
                fail(path.string(), "tensor '" + info.name + "' has a dimension of " +
                                        std::to_string(extent) + " elements");
            info.shape[dims - 1 - d] = static_cast<int64_t>(extent);
        }
        info.type = tensorType(path, info.name, in.get<uint32_t>());
        out.m_offsets.push_back(in.get<uint64_t>());
        out.m_tensors.push_back(std::move(info));
    }
    const uint64_t a = out.m_alignment;
    out.m_dataOffset = (in.position() + a - 1) / a * a;
    for (size_t i = 0; i < out.m_tensors.size(); ++i) {
        const TensorInfo& t = out.m_tensors[i];
        const uint64_t size = storedBytes(path, t);
        const uint64_t room = out.m_file.size() - std::min(out.m_file.size(), out.m_dataOffset);
        if (out.m_offsets[i] % a != 0 || out.m_offsets[i] > room || size > room - out.m_offsets[i])
            fail(path.string(),
                 "tensor '" + t.name + "' at offset " + std::to_string(out.m_offsets[i]) +
                     " with " + std::to_string(size) +
                     " bytes lies outside the file or off the alignment (truncated?)");
    }
    return out;
}

const Value* File::find(const std::string& key) const {
    for (const KeyValue& kv : m_metadata)
        if (kv.key == key)
            return &kv.value;
    return nullptr;
}

std::span<const std::byte> File::data(size_t index) const {
    return m_file.bytes().subspan(m_dataOffset + m_offsets.at(index),
                                  m_tensors.at(index).byteSize());
}

} // namespace rs::gguf
