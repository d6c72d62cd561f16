#pragma once

#include "io/checkpoint.h"
#include "io/dtype.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rs {

// Writes `tensors` as a safetensors file, atomically (see AtomicFile): the header is padded with
// spaces to a multiple of 8 bytes and the tensors follow back to back, largest element size first
// (then by name) so that every tensor stays aligned to its element size. Tensors of any dtype the
// format has are written as they are (no conversion, NaN included). Fails "<path>: <problem>" for
// duplicate names, unsupported dtypes, or I/O errors; a failure leaves no partial file behind.
void writeSafetensors(const std::filesystem::path& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Writes a sharded checkpoint into `dir`: "model-00001-of-0000N.safetensors", ... (each at most
// `maxShardBytes` of tensor data unless a single tensor is larger) and, last, the
// "model.safetensors.index.json" that maps every tensor to its shard. Tensors keep their order
// across shards. Returns the shard file names.
std::vector<std::string>
writeShardedSafetensors(const std::filesystem::path& dir, const std::vector<NamedTensor>& tensors,
                        uint64_t maxShardBytes,
                        const std::map<std::string, std::string>& metadata = {});

// A tensor of a streamed file: its name, type and shape are known before any of its data exists,
// which is all the header needs.
struct TensorPlan {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;

    uint64_t byteSize() const;
};

// The plans of tensors that exist; fails naming `file` for an undefined tensor, a duplicate or
// invalid name, or a dtype safetensors cannot store.
std::vector<TensorPlan> planTensors(const std::string& file,
                                    const std::vector<NamedTensor>& tensors);

// Produces the data of plans[index]: a tensor of exactly the planned dtype and shape.
using TensorProducer = std::function<at::Tensor(size_t index)>;

// writeSafetensors for data that does not exist yet: each tensor is asked of `produce` only when
// its turn in the file comes and dropped once written, so memory holds one tensor, not the file.
// Same layout and atomicity as writeSafetensors; also fails when a produced tensor does not match
// its plan.
void writeSafetensorsStreamed(const std::filesystem::path& path,
                              const std::vector<TensorPlan>& plans, const TensorProducer& produce,
                              const std::map<std::string, std::string>& metadata = {});

// writeShardedSafetensors, streamed the same way: the shards are planned from the sizes alone,
// then written one after the other (the index last), one tensor in memory at a time.
std::vector<std::string>
writeShardedSafetensorsStreamed(const std::filesystem::path& dir,
                                const std::vector<TensorPlan>& plans, const TensorProducer& produce,
                                uint64_t maxShardBytes,
                                const std::map<std::string, std::string>& metadata = {});

} // namespace rs
