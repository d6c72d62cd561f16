#include "formats/gguf.h"

#include "io/atomicfile.h"
#include "util/error.h"

#include <bit>
#include <cstring>
#include <set>

namespace rs::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF is written little-endian");

namespace {

constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};

// The file's value type numbers.
enum class ValueType : uint32_t {
    Uint32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    Uint64 = 10,
};

uint64_t padded(uint64_t size, uint32_t alignment) {
    return (size + alignment - 1) / alignment * alignment;
}

// Appends little-endian binary fields to a byte buffer.
class Encoder {
public:
    template <typename T> void put(T value) {
        const auto* p = reinterpret_cast<const char*>(&value);
        m_bytes.append(p, sizeof value);
    }
    void raw(const char* data, size_t size) { m_bytes.append(data, size); }
    void string(const std::string& s) {
        put<uint64_t>(s.size());
        m_bytes += s;
    }
    void value(const Value& v) {
        std::visit([this](const auto& x) { typed(x); }, v);
    }
    void pad(uint32_t alignment) { m_bytes.resize(padded(m_bytes.size(), alignment), '\0'); }
    const std::string& bytes() const { return m_bytes; }

private:
    void typed(uint32_t x) { scalar(ValueType::Uint32, x); }
    void typed(int32_t x) { scalar(ValueType::Int32, x); }
    void typed(float x) { scalar(ValueType::Float32, x); }
    void typed(bool x) { scalar(ValueType::Bool, uint8_t(x ? 1 : 0)); }
    void typed(uint64_t x) { scalar(ValueType::Uint64, x); }
    void typed(const std::string& x) {
        put(ValueType::String);
        string(x);
    }
    void typed(const std::vector<std::string>& xs) {
        array(ValueType::String, xs.size());
        for (const std::string& x : xs)
            string(x);
    }
    void typed(const std::vector<float>& xs) {
        array(ValueType::Float32, xs.size());
        for (float x : xs)
            put(x);
    }
    void typed(const std::vector<int32_t>& xs) {
        array(ValueType::Int32, xs.size());
        for (int32_t x : xs)
            put(x);
    }
    template <typename T> void scalar(ValueType type, T x) {
        put(type);
        put(x);
    }
    void array(ValueType element, uint64_t count) {
        put(ValueType::Array);
        put(element);
        put(count);
    }

    std::string m_bytes;
};

void checkNames(const std::filesystem::path& path, const std::vector<KeyValue>& metadata,
                const std::vector<TensorInfo>& tensors) {
    std::set<std::string> keys, names;
    for (const KeyValue& kv : metadata)
        if (kv.key.empty() || !keys.insert(kv.key).second)
            fail(path.string(), "metadata key '" + kv.key + "' is empty or given twice");
    for (const TensorInfo& t : tensors) {
        if (t.name.empty() || t.name.size() > kMaxNameBytes)
            fail(path.string(), "tensor name '" + t.name + "' is empty or longer than 63 bytes");
        if (!names.insert(t.name).second)
            fail(path.string(), "tensor '" + t.name + "' is given twice");
        if (t.shape.empty() || t.shape.size() > 4)
            fail(path.string(), "tensor '" + t.name + "' needs 1 to 4 dimensions");
    }
}

} // namespace

const char* typeName(TensorType type) {
    switch (type) {
    case TensorType::F32:
        return "F32";
    case TensorType::F16:
        return "F16";
    case TensorType::Q4_0:
        return "Q4_0";
    case TensorType::Q8_0:
        return "Q8_0";
    }
    return "?";
}

int64_t blockElements(TensorType type) {
    return type == TensorType::Q4_0 || type == TensorType::Q8_0 ? 32 : 1;
}

uint64_t blockBytes(TensorType type) {
    switch (type) {
    case TensorType::F32:
        return 4;
    case TensorType::F16:
        return 2;
    case TensorType::Q4_0:
        return 18;
    case TensorType::Q8_0:
        return 34;
    }
    return 0;
}

uint64_t TensorInfo::byteSize() const {
    const int64_t row = shape.back();
    if (row <= 0 || row % blockElements(type) != 0)
        fail(name, std::string(typeName(type)) + " stores rows in blocks of " +
                       std::to_string(blockElements(type)) + " values, but a row has " +
                       std::to_string(row));
    uint64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) {
        if (shape[i] <= 0)
            fail(name, "has an empty dimension");
        rows *= static_cast<uint64_t>(shape[i]);
    }
    return rows * static_cast<uint64_t>(row / blockElements(type)) * blockBytes(type);
}

void write(const std::filesystem::path& path, const std::vector<KeyValue>& metadata,
           const std::vector<TensorInfo>& tensors, const TensorBytes& produce, uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        fail(path.string(), "the alignment must be a power of two");
    checkNames(path, metadata, tensors);
    Encoder header;
    header.raw(kMagic, sizeof kMagic);
    header.put(kVersion);
    header.put<uint64_t>(tensors.size());
    header.put<uint64_t>(metadata.size());
    for (const KeyValue& kv : metadata) {
        header.string(kv.key);
        header.value(kv.value);
    }
    uint64_t offset = 0;
    for (const TensorInfo& t : tensors) {
        header.string(t.name);
        header.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
            header.put<uint64_t>(static_cast<uint64_t>(*it));
        header.put(t.type);
        header.put(offset);
        offset += padded(t.byteSize(), alignment);
    }
    header.pad(alignment);

    AtomicFile file(path);
    file.write(header.bytes());
    const std::vector<char> zeros(alignment, '\0');
    for (size_t i = 0; i < tensors.size(); ++i) {
        const std::vector<uint8_t> bytes = produce(i);
        const uint64_t size = tensors[i].byteSize();
        if (bytes.size() != size)
            fail(path.string(), "tensor '" + tensors[i].name + "' has " +
                                    std::to_string(bytes.size()) + " bytes, expected " +
                                    std::to_string(size));
        file.write(bytes.data(), bytes.size());
        file.write(zeros.data(), padded(size, alignment) - size);
    }
    file.commit();
}

} // namespace rs::gguf
