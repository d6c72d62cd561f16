#include "io/safetensorswriter.h"

#include "io/atomicfile.h"
#include "io/dtype.h"
#include "util/error.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

namespace rs {

namespace {

struct Prepared {
    const std::string* name;
    DType dtype;
    at::Tensor data; // contiguous, on the CPU
};

std::vector<Prepared> prepare(const std::string& file, const std::vector<NamedTensor>& tensors) {
    std::vector<Prepared> out;
    std::set<std::string_view> seen;
    for (const auto& t : tensors) {
        if (t.name.empty() || t.name == "__metadata__")
            fail(file, "invalid tensor name '" + t.name + "'");
        if (!seen.insert(t.name).second)
            fail(file, "duplicate tensor name '" + t.name + "'");
        if (!t.tensor.defined())
            fail(file, "tensor '" + t.name + "' is undefined");
        const auto dtype = fromScalarType(t.tensor.scalar_type());
        if (!dtype)
            fail(file, "tensor '" + t.name + "' has dtype " +
                           std::string(c10::toString(t.tensor.scalar_type())) +
                           ", which safetensors cannot store");
        out.push_back({&t.name, *dtype, t.tensor.cpu().contiguous()});
    }
    return out;
}

} // namespace

void writeSafetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    const std::string file = path.string();
    std::vector<Prepared> items = prepare(file, tensors);
    std::stable_sort(items.begin(), items.end(), [](const Prepared& a, const Prepared& b) {
        const size_t sa = dtypeSize(a.dtype), sb = dtypeSize(b.dtype);
        return sa != sb ? sa > sb : *a.name < *b.name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const auto& item : items) {
        const auto bytes = static_cast<uint64_t>(item.data.nbytes());
        header[*item.name] = {{"dtype", dtypeName(item.dtype)},
                              {"shape", item.data.sizes().vec()},
                              {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' '); // keeps the data buffer 8-byte aligned
    const uint64_t headerLength = text.size();

    AtomicFile out(path);
    out.write(&headerLength, 8); // little-endian, as is the host (see dtype.cpp)
    out.write(text);
    for (const auto& item : items) {
        // Bool tensors are one byte of 0/1 per element, which is what BOOL means on disk.
        out.write(item.data.data_ptr(), item.data.nbytes());
    }
    out.commit();
}

std::vector<std::string>
writeShardedSafetensors(const std::filesystem::path& dir, const std::vector<NamedTensor>& tensors,
                        uint64_t maxShardBytes,
                        const std::map<std::string, std::string>& metadata) {
    const auto indexPath = dir / "model.safetensors.index.json";
    if (maxShardBytes == 0)
        fail(indexPath.string(), "maximum shard size must be positive");
    std::vector<std::vector<NamedTensor>> shards;
    uint64_t shardBytes = 0, totalBytes = 0;
    std::set<std::string_view> seen; // each shard checks its own names; the index needs all unique
    for (const auto& t : tensors) {
        if (!seen.insert(t.name).second)
            fail(indexPath.string(), "duplicate tensor name '" + t.name + "'");
        const auto bytes = t.tensor.defined() ? static_cast<uint64_t>(t.tensor.nbytes()) : 0;
        if (shards.empty() || (shardBytes > 0 && shardBytes + bytes > maxShardBytes)) {
            shards.emplace_back();
            shardBytes = 0;
        }
        shards.back().push_back(t);
        shardBytes += bytes;
        totalBytes += bytes;
    }
    if (shards.empty())
        shards.emplace_back();

    std::vector<std::string> names;
    nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
        writeSafetensors(dir / name, shards[i], metadata);
        names.emplace_back(name);
        for (const auto& t : shards[i])
            weightMap[t.name] = name;
    }
    const nlohmann::ordered_json index = {{"metadata", {{"total_size", totalBytes}}},
                                          {"weight_map", weightMap}};
    writeFileAtomically(indexPath, index.dump(2) + "\n");
    return names;
}

} // namespace rs
