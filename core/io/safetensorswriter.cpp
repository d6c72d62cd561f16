#include "io/safetensorswriter.h"

#include "io/atomicfile.h"
#include "io/dtype.h"
#include "util/error.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

namespace rs {

namespace {

void checkName(const std::string& file, const std::string& name, std::set<std::string_view>& seen) {
    if (name.empty() || name == "__metadata__")
        fail(file, "invalid tensor name '" + name + "'");
    if (!seen.insert(name).second)
        fail(file, "duplicate tensor name '" + name + "'");
}

} // namespace

std::vector<TensorPlan> planTensors(const std::string& file,
                                    const std::vector<NamedTensor>& tensors) {
    std::vector<TensorPlan> plans;
    std::set<std::string_view> seen;
    for (const auto& t : tensors) {
        checkName(file, t.name, seen);
        if (!t.tensor.defined())
            fail(file, "tensor '" + t.name + "' is undefined");
        const auto dtype = fromScalarType(t.tensor.scalar_type());
        if (!dtype)
            fail(file, "tensor '" + t.name + "' has dtype " +
                           std::string(c10::toString(t.tensor.scalar_type())) +
                           ", which safetensors cannot store");
        plans.push_back({t.name, *dtype, t.tensor.sizes().vec()});
    }
    return plans;
}

uint64_t TensorPlan::byteSize() const {
    uint64_t n = dtypeSize(dtype);
    for (const int64_t d : shape)
        n *= static_cast<uint64_t>(d);
    return n;
}

void writeSafetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    writeSafetensorsStreamed(
        path, planTensors(path.string(), tensors),
        [&](size_t index) { return tensors[index].tensor; }, metadata);
}

void writeSafetensorsStreamed(const std::filesystem::path& path,
                              const std::vector<TensorPlan>& plans, const TensorProducer& produce,
                              const std::map<std::string, std::string>& metadata) {
    const std::string file = path.string();
    std::set<std::string_view> seen;
    for (const auto& plan : plans) {
        checkName(file, plan.name, seen);
        if (std::any_of(plan.shape.begin(), plan.shape.end(), [](int64_t d) { return d < 0; }))
            fail(file,
                 "tensor '" + plan.name + "' has the negative shape " + formatShape(plan.shape));
    }
    std::vector<size_t> order(plans.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const size_t sa = dtypeSize(plans[a].dtype), sb = dtypeSize(plans[b].dtype);
        return sa != sb ? sa > sb : plans[a].name < plans[b].name;
    });

    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const size_t i : order) {
        const uint64_t bytes = plans[i].byteSize();
        header[plans[i].name] = {{"dtype", dtypeName(plans[i].dtype)},
                                 {"shape", plans[i].shape},
                                 {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' '); // keeps the data buffer 8-byte aligned
    const uint64_t headerLength = text.size();

    AtomicFile out(path);
    out.write(&headerLength, 8); // little-endian, as is the host (see dtype.cpp)
    out.write(text);
    for (const size_t i : order) {
        const TensorPlan& plan = plans[i];
        at::Tensor data = produce(i);
        // The header is already written: data of another type or shape would corrupt the file.
        if (!data.defined() || data.scalar_type() != toScalarType(plan.dtype) ||
            data.sizes() != at::IntArrayRef(plan.shape))
            fail(file, "tensor '" + plan.name + "' was produced as " +
                           (data.defined() ? std::string(c10::toString(data.scalar_type())) + " " +
                                                 formatShape(data.sizes())
                                           : std::string("undefined")) +
                           ", planned " + std::string(dtypeName(plan.dtype)) + " " +
                           formatShape(plan.shape));
        data = data.cpu().contiguous();
        // Bool tensors are one byte of 0/1 per element, which is what BOOL means on disk.
        out.write(data.data_ptr(), data.nbytes());
    }
    out.commit();
}

std::vector<std::string>
writeShardedSafetensors(const std::filesystem::path& dir, const std::vector<NamedTensor>& tensors,
                        uint64_t maxShardBytes,
                        const std::map<std::string, std::string>& metadata) {
    const auto indexPath = dir / "model.safetensors.index.json";
    return writeShardedSafetensorsStreamed(
        dir, planTensors(indexPath.string(), tensors),
        [&](size_t index) { return tensors[index].tensor; }, maxShardBytes, metadata);
}

std::vector<std::string>
writeShardedSafetensorsStreamed(const std::filesystem::path& dir,
                                const std::vector<TensorPlan>& plans, const TensorProducer& produce,
                                uint64_t maxShardBytes,
                                const std::map<std::string, std::string>& metadata) {
    const auto indexPath = dir / "model.safetensors.index.json";
    if (maxShardBytes == 0)
        fail(indexPath.string(), "maximum shard size must be positive");
    std::vector<std::vector<size_t>> shards; // indices into plans
    uint64_t shardBytes = 0, totalBytes = 0;
    std::set<std::string_view> seen; // each shard checks its own names; the index needs all unique
    for (size_t i = 0; i < plans.size(); ++i) {
        if (!seen.insert(plans[i].name).second)
            fail(indexPath.string(), "duplicate tensor name '" + plans[i].name + "'");
        const uint64_t bytes = plans[i].byteSize();
        if (shards.empty() || (shardBytes > 0 && shardBytes + bytes > maxShardBytes)) {
            shards.emplace_back();
            shardBytes = 0;
        }
        shards.back().push_back(i);
        shardBytes += bytes;
        totalBytes += bytes;
    }
    if (shards.empty())
        shards.emplace_back();

    std::vector<std::string> names;
    nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
    for (size_t s = 0; s < shards.size(); ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
        std::vector<TensorPlan> shardPlans;
        for (const size_t i : shards[s])
            shardPlans.push_back(plans[i]);
        writeSafetensorsStreamed(
            dir / name, shardPlans, [&](size_t k) { return produce(shards[s][k]); }, metadata);
        names.emplace_back(name);
        for (const size_t i : shards[s])
            weightMap[plans[i].name] = name;
    }
    const nlohmann::ordered_json index = {{"metadata", {{"total_size", totalBytes}}},
                                          {"weight_map", weightMap}};
    writeFileAtomically(indexPath, index.dump(2) + "\n");
    return names;
}

} // namespace rs
