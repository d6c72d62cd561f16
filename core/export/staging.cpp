#include "export/staging.h"

#include "export/leftovers.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/statvfs.h>
#include <unistd.h>
#include <vector>

namespace rs {

namespace fs = std::filesystem;

namespace {

std::string errnoText(const std::string& what) {
    return what + " (" + std::strerror(errno) + ")";
}

void syncPath(const fs::path& path, bool directory) {
    const int fd =
        ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        fail(path.string(), errnoText("cannot open to sync"));
    const int result = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (result != 0 && err != EINVAL) // some file systems cannot fsync directories
        fail(path.string(), "fsync failed (" + std::string(std::strerror(err)) + ")");
}

// Names of the files and directories below `dir` that `listed` (relative paths) does not cover.
std::vector<std::string> unlistedEntries(const fs::path& dir, const std::set<std::string>& listed) {
    std::set<std::string> parents; // directories that hold a listed file
    for (const std::string& file : listed)
        for (fs::path p = fs::path(file).parent_path(); !p.empty(); p = p.parent_path())
            parents.insert(p.generic_string());
    std::vector<std::string> unlisted;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
        const std::string name = fs::relative(e.path(), dir).generic_string();
        const bool directory = e.is_directory() && !e.is_symlink();
        if (name == kExportManifest || (directory ? parents.count(name) : listed.count(name)))
            continue;
        unlisted.push_back(name);
    }
    std::sort(unlisted.begin(), unlisted.end());
    return unlisted;
}

// The files an earlier export wrote, as it wrote them: an edited one (a model card the user
// completed, weights put in its place) is the user's work now and is not replaced. Sizes name
// the files; the content hash catches an edit that kept the size. A deleted file loses nothing.
void requireUnchangedExportFiles(const fs::path& target, const nlohmann::json& manifest) {
    std::vector<std::string> changed;
    bool complete = true;
    for (const nlohmann::json& f : manifest["files"]) {
        if (!f.is_object() || !f.contains("path") || !f["path"].is_string())
            continue;
        const std::string path = f["path"].get<std::string>();
        std::error_code error;
        const uintmax_t bytes = fs::file_size(target / path, error);
        if (error)
            complete = false;
        else if (!f.contains("bytes") || !f["bytes"].is_number_unsigned() ||
                 f["bytes"].get<uintmax_t>() != bytes)
            changed.push_back(path);
    }
    if (!changed.empty()) {
        std::string names;
        for (size_t i = 0; i < changed.size(); ++i)
            names += (i ? ", " : "") + changed[i];
        fail(target.string(), "holds files changed since the earlier export wrote them (" + names +
                                  "); move them away or choose another directory");
    }
    if (complete && manifest.value("content_hash", "") != hashExportDirectory(target))
        fail(target.string(), "holds files changed since the earlier export wrote them (their "
                              "sizes are the same, their content hash is not); move them away "
                              "or choose another directory");
}

// An earlier export is replaced only when it holds nothing but what its manifest says it wrote:
// a file the user put there must never be deleted by --force.
void requireOnlyExportFiles(const fs::path& target) {
    const fs::path manifestPath = target / kExportManifest;
    nlohmann::json manifest;
    try {
        manifest = nlohmann::json::parse(readTextFile(manifestPath));
    } catch (const nlohmann::json::exception& e) {
        fail(manifestPath.string(), std::string("is not valid JSON (") + e.what() +
                                        "); refusing to replace the directory");
    }
    std::vector<std::string> unlisted;
    if (manifest.contains("files") && manifest["files"].is_array()) {
        std::set<std::string> listed;
        for (const nlohmann::json& f : manifest["files"])
            if (f.is_object() && f.contains("path") && f["path"].is_string())
                listed.insert(f["path"].get<std::string>());
        unlisted = unlistedEntries(target, listed);
        if (unlisted.empty())
            requireUnchangedExportFiles(target, manifest);
    } else if (manifest.value("content_hash", "") != hashExportDirectory(target)) {
        // An export written before manifests listed their files: its content hash decides.
        fail(target.string(), "holds files its manifest does not account for (added or changed "
                              "since the export); refusing to replace it");
    }
    if (unlisted.empty())
        return;
    std::string names;
    for (size_t i = 0; i < std::min<size_t>(unlisted.size(), 5); ++i)
        names += (i ? ", " : "") + unlisted[i];
    if (unlisted.size() > 5)
        names += " and " + std::to_string(unlisted.size() - 5) + " more";
    fail(target.string(), "holds files the earlier export did not write (" + names +
                              "); move them away or choose another directory");
}

} // namespace

uint64_t freeSpace(const fs::path& dir) {
    struct statvfs s {};
    if (::statvfs(dir.c_str(), &s) != 0)
        fail(dir.string(), errnoText("cannot read the free space"));
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

void requireFreeSpace(const fs::path& dir, const SpaceEstimate& needed, const FreeSpaceFn& free) {
    const uint64_t available = free ? free(dir) : freeSpace(dir);
    if (available < needed.total())
        fail(dir.string(), "the export needs about " + describeSpace(needed) +
                               " of free space, only " + formatBytes(available) + " available");
}

StagedDirectory::StagedDirectory(fs::path target, bool replace, fs::path registry)
    : m_target(fs::absolute(std::move(target)).lexically_normal())
    , m_registry(std::move(registry))
    , m_replace(replace) {
    if (m_target.filename().empty())
        m_target = m_target.parent_path();
    std::error_code ec;
    const fs::path parent = m_target.parent_path();
    if (!fs::is_directory(parent, ec))
        fail(m_target.string(), "its parent directory does not exist");
    if (fs::exists(fs::symlink_status(m_target, ec))) {
        if (!replace)
            fail(m_target.string(), "already exists (use --force to replace an earlier export)");
        if (!fs::is_directory(fs::symlink_status(m_target, ec)))
            fail(m_target.string(), "exists and is not a directory; refusing to replace it");
        if (fs::exists(m_target / kExportManifest, ec))
            requireOnlyExportFiles(m_target);
        else if (!fs::is_empty(m_target, ec))
            fail(m_target.string(), std::string("is not an earlier export (no ") + kExportManifest +
                                        "); refusing to replace it");
    }
    cleanLeftovers(parent);
    m_stage = leftoverName(m_target, "staging");
    // The marker first: a process killed between the two steps leaves a marker without a
    // directory (which `cache prune` drops), never a directory nothing points to.
    if (!m_registry.empty())
        registerStaging(m_registry, m_stage);
    if (!fs::create_directory(m_stage, ec) || ec) {
        if (!m_registry.empty())
            unregisterStaging(m_registry, m_stage);
        fail(m_stage.string(), "cannot create the staging directory (" + ec.message() + ")");
    }
}

StagedDirectory::~StagedDirectory() {
    if (!m_committed) {
        std::error_code ec;
        fs::remove_all(m_stage, ec);
    }
    if (!m_registry.empty())
        unregisterStaging(m_registry, m_stage);
}

void StagedDirectory::commit() {
    // Files written with AtomicFile are already synced; directories need it for their entries.
    std::vector<fs::path> dirs{m_stage};
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(m_stage)) {
        if (e.is_directory())
            dirs.push_back(e.path());
        else
            syncPath(e.path(), false);
    }
    std::reverse(dirs.begin(), dirs.end());
    for (const fs::path& d : dirs)
        syncPath(d, true);

    std::error_code ec;
    fs::path old;
    if (fs::exists(fs::symlink_status(m_target, ec))) {
        if (!m_replace)
            fail(m_target.string(), "appeared while the export was written; not replacing it");
        old = leftoverName(m_target, "old");
        if (::rename(m_target.c_str(), old.c_str()) != 0)
            fail(m_target.string(), errnoText("cannot move the earlier export aside"));
    }
    // RENAME_NOREPLACE: never clobber a directory that appeared since the check above.
    if (::renameat2(AT_FDCWD, m_stage.c_str(), AT_FDCWD, m_target.c_str(), RENAME_NOREPLACE) != 0) {
        const std::string problem = errnoText("cannot move the export into place");
        if (!old.empty())
            ::rename(old.c_str(), m_target.c_str());
        fail(m_target.string(), problem);
    }
    m_committed = true;
    syncPath(m_target.parent_path(), true);
    if (!old.empty())
        fs::remove_all(old, ec);
}

std::string hashExportDirectory(const fs::path& dir, const JobContext& job) {
    std::vector<std::string> files;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename() != kExportManifest)
            files.push_back(fs::relative(e.path(), dir).generic_string());
    std::sort(files.begin(), files.end());
    std::string lines;
    for (const std::string& f : files)
        lines += f + "\n" + sha256File(dir / f, job) + "\n";
    return sha256Hex(lines);
}

uint64_t directoryBytes(const fs::path& dir) {
    uint64_t total = 0;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            total += e.file_size();
    return total;
}

} // namespace rs
