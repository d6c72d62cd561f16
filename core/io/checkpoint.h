#pragma once

#include "arch/model_config.h"

#include <ATen/core/Tensor.h>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace rs {

class SafetensorsFile;

struct NamedTensor {
    std::string name;
    at::Tensor tensor;
};

// A model as read from disk: its architecture and every tensor under its Hugging Face
// LlamaForCausalLM name ("model.layers.0.self_attn.q_proj.weight", ...). Both the HF directory
// reader and the llama2.c importer produce this layout, so everything downstream sees one form.
struct Checkpoint {
    std::filesystem::path source; // the directory or file it was read from
    std::string format;           // "safetensors", "safetensors (3 shards)", "llama2.c"
    ModelConfig config;
    std::vector<NamedTensor> tensors;
    // For a checkpoint opened lazily (openCheckpoint): the mapped files its tensors read, by
    // tensor name. Empty when the tensors live in memory.
    std::unordered_map<std::string, std::shared_ptr<const SafetensorsFile>> mappedFiles;
    // The distinct mapped files (shards), each once.
    std::vector<std::shared_ptr<const SafetensorsFile>> shards;
    // Tensors computed when read (an export's GPTQ weights, dequantized): `tensors` holds a
    // placeholder on the meta device with their shape and dtype, so that sizes are known without
    // computing them. `reads` names the mapped tensors the computation reads.
    struct Deferred {
        std::function<at::Tensor()> compute;
        std::vector<std::string> reads;
    };
    std::unordered_map<std::string, Deferred> deferred;

    // Shape and dtype only (a deferred tensor's placeholder holds no values).
    const at::Tensor* find(const std::string& name) const;
    // Like find(), but fails with "<source>: missing tensor <name>" when absent.
    const at::Tensor& require(const std::string& name) const;
    // The tensor with its values: a view of the mapped file, a tensor in memory, or a deferred
    // tensor computed now. Fails like require() when absent.
    at::Tensor read(const std::string& name) const;
    // Lets the pages of a mapped tensor leave the resident set once a block is done with them
    // (no-op for tensors in memory; a deferred tensor releases what it read).
    void releasePages(const std::string& name) const;
    // Fails, naming the shard, when a mapped file shrank since it was opened (reading it would
    // otherwise end the process with SIGBUS).
    void checkFilesIntact() const;
};

// Opens a Hugging Face model directory (config.json + model.safetensors or a sharded index) or a
// llama2.c .bin file. Floating-point tensors are converted to `dtype` ("float32", "bfloat16",
// "float16"); integer tensors are kept as they are.
Checkpoint loadCheckpoint(const std::filesystem::path& path, const std::string& dtype = "float32");

// Opens a checkpoint lazily: config.json and the safetensors headers are read and validated, and
// every tensor is a read-only view of the memory-mapped file in its stored dtype, so nothing is
// read from disk until a tensor's values are used (a llama2.c file, which needs its q/k rows
// permuted, is read into float32 memory). Opening costs the same for any model size.
Checkpoint openCheckpoint(const std::filesystem::path& path);

} // namespace rs
