#include "io/safetensors.h"

#include "io/jsonerror.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace rs {

namespace {

using json = nlohmann::json;

std::string range(uint64_t begin, uint64_t end) {
    return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

TensorInfo parseEntry(const std::string& file, const std::string& name, const json& entry) {
    const std::string subject = "tensor '" + name + "'";
    if (!entry.is_object())
        fail(file, subject + ": header entry is not a JSON object");
    const auto dtypeIt = entry.find("dtype");
    const auto shapeIt = entry.find("shape");
    const auto offsetsIt = entry.find("data_offsets");
    if (dtypeIt == entry.end() || shapeIt == entry.end() || offsetsIt == entry.end())
        fail(file, subject + ": header entry needs \"dtype\", \"shape\" and \"data_offsets\"");
    if (!dtypeIt->is_string())
        fail(file, subject + ": dtype is not a string");
    const auto dtype = parseDType(dtypeIt->get_ref<const std::string&>());
    if (!dtype)
        fail(file, subject + ": unsupported dtype '" + dtypeIt->get<std::string>() +
                       "' (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");

    TensorInfo info;
    info.dtype = *dtype;
    if (!shapeIt->is_array())
        fail(file, subject + ": shape is not an array");
    uint64_t numel = 1;
    for (const auto& dim : *shapeIt) {
        if (!dim.is_number_unsigned() ||
            dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            fail(file, subject + ": shape " + shapeIt->dump() + " must hold non-negative integers");
        const uint64_t d = dim.get<uint64_t>();
        if (__builtin_mul_overflow(numel, d, &numel))
            fail(file, subject + ": shape " + shapeIt->dump() + " overflows");
        info.shape.push_back(static_cast<int64_t>(d));
    }
    if (!offsetsIt->is_array() || offsetsIt->size() != 2 || !(*offsetsIt)[0].is_number_unsigned() ||
        !(*offsetsIt)[1].is_number_unsigned())
        fail(file, subject + ": data_offsets " + offsetsIt->dump() +
                       " must be two non-negative integers");
    info.begin = (*offsetsIt)[0].get<uint64_t>();
    info.end = (*offsetsIt)[1].get<uint64_t>();
    if (info.end < info.begin)
        fail(file, subject + ": data_offsets " + range(info.begin, info.end) + " are reversed");
    uint64_t needed = 0;
    if (__builtin_mul_overflow(numel, uint64_t(dtypeSize(info.dtype)), &needed))
        fail(file, subject + ": shape " + shapeIt->dump() + " overflows");
    if (info.end - info.begin != needed)
        fail(file, subject + ": data_offsets " + range(info.begin, info.end) + " span " +
                       std::to_string(info.end - info.begin) + " bytes but " +
                       std::string(dtypeName(info.dtype)) + " " + formatShape(info.shape) +
                       " needs " + std::to_string(needed) + " bytes");
    return info;
}

// nlohmann::json keeps the last of two equal keys, which would let a corrupt header name a tensor
// twice and silently drop one of them: every object of the header is checked for repeated keys.
class DuplicateKeyCheck {
public:
    explicit DuplicateKeyCheck(const std::string& file)
        : m_file(file) {}

    bool operator()(int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            m_keys.emplace_back();
            break;
        case json::parse_event_t::object_end:
            m_keys.pop_back();
            break;
        case json::parse_event_t::key: {
            const std::string& key = parsed.get_ref<const std::string&>();
            if (depth == 1)
                m_entry = key;
            if (!m_keys.back().insert(key).second)
                fail(m_file,
                     depth == 1 ? "header lists tensor '" + key + "' twice"
                                : "header entry '" + m_entry + "' has the key '" + key + "' twice");
            break;
        }
        default:
            break;
        }
        return true;
    }

private:
    const std::string& m_file;
    std::vector<std::set<std::string>> m_keys; // of the objects being read, innermost last
    std::string m_entry;                       // the top-level key being read
};

} // namespace

int64_t TensorInfo::numel() const {
    int64_t n = 1;
    for (const int64_t d : shape)
        n *= d;
    return n;
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
    SafetensorsFile st;
    st.m_file = MappedFile::open(path);
    const std::string file = path.string();
    const uint64_t fileSize = st.m_file.size();
    if (fileSize < 8)
        fail(file,
             "file too small for a safetensors header (" + std::to_string(fileSize) + " bytes)");

    uint64_t headerLength = 0;
    std::memcpy(&headerLength, st.m_file.data(), 8); // little-endian u64, as is the host
    if (headerLength > kMaxHeaderBytes)
        fail(file, "header length " + std::to_string(headerLength) + " exceeds the limit of " +
                       std::to_string(kMaxHeaderBytes) + " bytes");
    if (headerLength > fileSize - 8)
        fail(file, "header length " + std::to_string(headerLength) + " exceeds the file size (" +
                       std::to_string(fileSize) + " bytes)");
    st.m_dataOffset = 8 + headerLength;

    const auto* text = reinterpret_cast<const char*>(st.m_file.data() + 8);
    if (headerLength == 0 || text[0] != '{')
        fail(file, "header is not a JSON object");
    json header;
    try {
        header = json::parse(text, text + headerLength, DuplicateKeyCheck(file));
    } catch (const json::exception& e) {
        fail(file, "header is not valid JSON (" + jsonErrorText(e) + ")");
    }
    if (!header.is_object())
        fail(file, "header is not a JSON object");

    std::vector<std::pair<std::string, TensorInfo>> entries;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object())
                fail(file, "__metadata__ is not a JSON object");
            for (const auto& [key, value] : entry.items()) {
                if (!value.is_string())
                    fail(file, "__metadata__ value of '" + key + "' is not a string");
                st.m_metadata.emplace(key, value.get<std::string>());
            }
            continue;
        }
        entries.emplace_back(name, parseEntry(file, name, entry));
    }

    // The ranges must tile [0, dataSize) exactly, as the reference implementation requires.
    const uint64_t dataSize = fileSize - st.m_dataOffset;
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        return a.second.begin != b.second.begin ? a.second.begin < b.second.begin
                                                : a.second.end < b.second.end;
    });
    uint64_t covered = 0;
    const std::string* previous = nullptr;
    for (const auto& [name, info] : entries) {
        if (info.end > dataSize)
            fail(file, "tensor '" + name + "': data_offsets " + range(info.begin, info.end) +
                           " exceed the data buffer (" + std::to_string(dataSize) + " bytes)");
        if (info.begin < covered)
            fail(file, "tensor '" + name + "': data_offsets " + range(info.begin, info.end) +
                           " overlap tensor '" + *previous + "' " +
                           range(st.m_infos.at(*previous).begin, covered));
        if (info.begin > covered)
            fail(file, "tensor '" + name + "': data_offsets " + range(info.begin, info.end) +
                           " leave a gap of " + std::to_string(info.begin - covered) +
                           " bytes after offset " + std::to_string(covered));
        covered = info.end;
        previous = &name;
        st.m_names.push_back(name);
        st.m_infos.emplace(name, info);
    }
    if (covered != dataSize)
        fail(file, "data buffer has " + std::to_string(dataSize - covered) +
                       " bytes after the last tensor (tensors cover " + std::to_string(covered) +
                       " of " + std::to_string(dataSize) + " bytes)");
    return st;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
    const auto it = m_infos.find(name);
    if (it == m_infos.end())
        fail(path().string(), "missing tensor " + name);
    return it->second;
}

std::span<const std::byte> SafetensorsFile::bytes(const std::string& name) const {
    const TensorInfo& i = info(name);
    return {m_file.data() + m_dataOffset + i.begin, static_cast<size_t>(i.byteSize())};
}

at::Tensor SafetensorsFile::tensor(const std::string& name,
                                   std::optional<at::ScalarType> floatType) const {
    const TensorInfo& i = info(name);
    return tensorFromBytes(bytes(name), i.dtype, i.shape, floatType);
}

void SafetensorsFile::releasePages(const std::string& name) const {
    const TensorInfo& i = info(name);
    m_file.releasePages(m_dataOffset + i.begin, i.byteSize());
}

at::Tensor mappedTensor(const std::shared_ptr<const SafetensorsFile>& file,
                        const std::string& name) {
    const TensorInfo& i = file->info(name);
    const std::span<const std::byte> bytes = file->bytes(name);
    const auto address = reinterpret_cast<uintptr_t>(bytes.data());
    if (i.dtype == DType::Bool || bytes.empty() || address % dtypeSize(i.dtype) != 0)
        return file->tensor(name);
    // The deleter owns a reference to the file, so the mapping outlives every view of it.
    return at::from_blob(
        const_cast<std::byte*>(bytes.data()), i.shape, [file](void*) {},
        at::TensorOptions().dtype(toScalarType(i.dtype)));
}

} // namespace rs
