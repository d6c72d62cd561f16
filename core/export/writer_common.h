#pragma once

// Helpers shared by the export writers (internal to core/export).
#include "export/export_writer.h"
#include "io/checkpoint.h"

#include <nlohmann/json.hpp>

namespace rs::exportfiles {

// The source's config.json, key order kept.
nlohmann::ordered_json sourceConfig(const SourceModel& source);

// Every source tensor except the weights of the replaced linears (biases stay).
std::vector<NamedTensor> untouchedTensors(const SourceModel& source,
                                          const std::vector<ExportLinear>& linears);

// model.safetensors, or shards with an index past kShardBytes.
void writeWeights(const std::filesystem::path& dir, const std::vector<NamedTensor>& tensors,
                  const JobContext& job);

void writeJson(const std::filesystem::path& path, const nlohmann::ordered_json& json);

// Copies the source's tokenizer and generation files byte for byte.
void copyModelFiles(const std::filesystem::path& dir, const SourceModel& source,
                    const JobContext& job);

at::ScalarType produced(const ExportContent& content);

} // namespace rs::exportfiles
