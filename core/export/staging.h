#pragma once

#include "export/space_estimate.h"
#include "formats/export_format.h"
#include "util/progress.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace rs {

// Bytes free for new files under `dir` (statvfs); injectable so that tests can simulate a
// full disk.
using FreeSpaceFn = std::function<uint64_t(const std::filesystem::path& dir)>;
uint64_t freeSpace(const std::filesystem::path& dir);

// A directory built beside its target and moved into place with one rename, so readers never see
// a half-written export. The constructor refuses an existing target unless `replace` is set, and
// even then only an earlier export (it has kExportManifest) or an empty directory; it creates a
// hidden staging directory in the target's parent. commit() fsyncs every file and directory and
// renames the staging directory into place (an old export is moved aside first and removed
// after). Without commit() -- failure, cancellation -- the destructor removes everything staged.
// What a killed export left in the same parent is cleaned first (export/leftovers.h); with a
// `registry`, the staging directory is also marked there for `cache prune`.
class StagedDirectory {
public:
    StagedDirectory(std::filesystem::path target, bool replace,
                    std::filesystem::path registry = {});
    StagedDirectory(const StagedDirectory&) = delete;
    StagedDirectory& operator=(const StagedDirectory&) = delete;
    ~StagedDirectory();

    const std::filesystem::path& path() const { return m_stage; }
    const std::filesystem::path& target() const { return m_target; }
    void commit();

private:
    std::filesystem::path m_target;
    std::filesystem::path m_stage;
    std::filesystem::path m_registry;
    bool m_replace = false;
    bool m_committed = false;
};

// Fails "<dir>: needs N of free space, only M available" unless `needed` bytes fit.
void requireFreeSpace(const std::filesystem::path& dir, const SpaceEstimate& needed,
                      const FreeSpaceFn& free);

// SHA-256 over every file below `dir` except kExportManifest: the lines
// "<relative path>\n<sha256 of the file>\n" in sorted path order, hashed again.
std::string hashExportDirectory(const std::filesystem::path& dir, const JobContext& job = {});

// Total bytes of the regular files below `dir`.
uint64_t directoryBytes(const std::filesystem::path& dir);

} // namespace rs
