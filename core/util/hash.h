#pragma once

#include "util/progress.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rs {

// Incremental SHA-256 (OpenSSL). Content hashes are SHA-256 so that a weight file's hash is the
// one the Hugging Face Hub shows for it.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, size_t size);
    void update(std::string_view text) { update(text.data(), text.size()); }
    std::string hexDigest(); // finishes the hash; 64 lowercase hex digits

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

std::string sha256Hex(std::string_view data);

// SHA-256 of a file's bytes, read in large blocks; reports progress ("hash", bytes) and honours
// cancellation. Throws rs::Error "<path>: <problem>".
std::string sha256File(const std::filesystem::path& path, const JobContext& job = {});

// What a file's hash is remembered by. The status-change time cannot be set back by a user (any
// write or utime() moves it to now), so an in-place edit whose modification time was restored
// still misses the memo.
struct FileStamp {
    int64_t size = 0;
    int64_t mtimeNs = 0;
    int64_t ctimeNs = 0;
    bool operator==(const FileStamp&) const = default;
};

// The stamp of a file, following symbolic links (a Hugging Face snapshot links to its blobs).
FileStamp fileStamp(const std::filesystem::path& path);

// A memo of file hashes keyed by (canonical path, stamp), so that a multi-gigabyte checkpoint is
// read once, not on every run (ExperimentStore::knownHash/rememberHash fit).
using KnownHashFn = std::function<std::optional<std::string>(const std::filesystem::path& file,
                                                             const FileStamp& stamp)>;
using RememberHashFn = std::function<void(const std::filesystem::path& file, const FileStamp& stamp,
                                          const std::string& hash)>;

// The content hash of a model's weights (64 lowercase hex digits):
// - a directory: every "*.safetensors" file in it (not in subdirectories), sorted by name, is
//   hashed on its own; the result is the SHA-256 of the lines "<file name>\n<file hash>\n"
//   concatenated in that order. Configs, tokenizers and the shard index do not take part, so the
//   hash names the weights alone. A directory without a .safetensors file is an error.
// - a single file (a llama2.c .bin or one .safetensors file): the file's SHA-256.
// Each file's hash is looked up with `known` first and computed only when it is unknown, then
// passed to `remember`. A file that changes while it is read is an error. Throws rs::Error
// "<path>: <problem>"; honours cancellation and reports progress as sha256File() does.
std::string hashWeights(const std::filesystem::path& checkpoint, const KnownHashFn& known = {},
                        const RememberHashFn& remember = {}, const JobContext& job = {});

} // namespace rs
