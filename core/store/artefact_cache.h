#pragma once

#include "io/checkpoint.h"
#include "io/safetensors.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rs {

class ExperimentStore;

// Large artefacts (calibration statistics, factors) as safetensors files in a cache directory,
// one directory per artefact named by its content key: <cache>/<key[0:2]>/<key>/. The database
// references them by key; nothing large goes into SQLite.
//
// An artefact is complete only once its manifest ("manifest.json", written last and atomically)
// exists, so a job killed while writing leaves an incomplete directory that is never read and
// that pruneCache() removes.
//
// Keys are 16 to 64 lowercase hexadecimal digits and file names plain names (letters, digits,
// '.', '_', '-'; not hidden, not "manifest.json"); anything else is refused with rs::Error, so
// no key or name can reach outside the cache. The manifest lists every file with its size, and
// open() checks a file against it before reading.
//
// A Writer holds an advisory lock (flock on "<artefact>/.writer.lock") until it commits or is
// destroyed: a second Writer for the same key, remove(), and pruneCache() leave an artefact that
// is being written alone, in this process or another; a writer that was killed holds no lock.
class ArtefactCache {
public:
    explicit ArtefactCache(std::filesystem::path directory);

    const std::filesystem::path& directory() const { return m_dir; }
    std::filesystem::path pathOf(const std::string& key) const;
    bool complete(const std::string& key) const;
    // Bytes of all files of the artefact (0 when absent).
    uint64_t bytesOf(const std::string& key) const;
    // True while a Writer (of any process) is writing the artefact.
    bool beingWritten(const std::string& key) const;

    // Writes an artefact file by file (each atomically), then commit() writes the manifest.
    // Destroyed without commit(), the partial directory is removed. The constructor creates the
    // directory and takes the lock; it refuses a complete artefact (remove() it first) and clears
    // what an interrupted writer left. A failed add() or commit() (a full disk) throws and leaves
    // the writer to be destroyed, which removes everything written so far.
    class Writer {
    public:
        Writer(ArtefactCache& cache, std::string key);
        ~Writer();
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;
        void add(const std::string& file, const std::vector<NamedTensor>& tensors,
                 const std::map<std::string, std::string>& metadata = {});
        // `manifest` is free-form metadata (JSON object text; empty means {}) stored in
        // manifest.json. Nothing can be added after it.
        void commit(const std::string& manifest);
        // Bytes of the files written so far (the manifest included once committed).
        uint64_t bytesWritten() const { return m_bytes; }

    private:
        ArtefactCache& m_cache;
        std::string m_key;
        std::filesystem::path m_dir;
        uint64_t m_bytes = 0;
        bool m_committed = false;
        int m_lockFd = -1;
    };

    // Opens one file of a complete artefact; throws rs::Error naming the file when it is
    // missing, truncated or corrupt (the caller then recomputes instead of using bad data).
    SafetensorsFile open(const std::string& key, const std::string& file) const;
    // The free-form metadata given to commit() (as compact JSON text) of a complete artefact.
    std::string manifest(const std::string& key) const;
    // Removes the artefact's directory (the manifest first, so that it is never seen complete
    // and half-removed); nothing when absent. Refused while a Writer holds it.
    void remove(const std::string& key) const;
    // Keys of every artefact directory present (complete or not).
    std::vector<std::string> keys() const;

private:
    std::filesystem::path m_dir;
};

struct PruneOptions {
    bool all = false;                     // every artefact
    std::optional<int64_t> olderThanDays; // not used for this many days
    std::optional<uint64_t> maxBytes;     // then drop least recently used until the cache fits
    bool dryRun = false;
};

struct PruneReport {
    std::vector<std::string> removed; // keys of removed directories and database rows
    uint64_t freedBytes = 0;
    uint64_t keptBytes = 0;
    int64_t incompleteRemoved = 0; // directories without a manifest (interrupted writes)
    int64_t orphansRemoved = 0;    // directories no database row references
};

// Removes cache directories by the options (and always incomplete or unreferenced ones), and
// the database rows of removed artefacts and of artefacts whose directory is gone. The last use
// of an artefact is its row's last_used (else created, else its manifest's modification time).
// maxBytes counts every byte the cache keeps, and drops the least recently used complete
// artefacts (ties by key) until the total fits. An artefact being written is never touched.
// dryRun reports the same removals and changes nothing.
PruneReport pruneCache(ExperimentStore& store, ArtefactCache& cache, const PruneOptions& options);

} // namespace rs
