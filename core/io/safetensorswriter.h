#pragma once

#include "io/checkpoint.h"

#include <cstdint>
#include <filesystem>
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

} // namespace rs
