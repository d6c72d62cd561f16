#pragma once

#include "store/records.h"
#include "util/hash.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rs {

namespace store {
class Database;
}

// The SQLite experiment store: the single source of truth that the CLI and the GUI read.
//
// One ExperimentStore is one connection; use it from one thread at a time (open one per thread:
// a job's worker writes while the GUI reads through its own). The database runs in WAL mode with
// foreign keys on and a busy timeout, so one writer and any number of readers work side by side
// without "database is locked" errors. Every write below is one transaction: a reader sees all of
// a call's rows or none of them.
//
// Errors are rs::Error "<database path>: <problem>"; the file is never recreated, truncated or
// repaired behind the user's back (a file that is not a RankScope database, or one written by a
// newer RankScope, is refused as it is).
class ExperimentStore {
public:
    struct Options {
        bool readOnly = false; // never writes (no migration, no interrupted-run marking)
        std::chrono::milliseconds busyTimeout{15000};
    };

    // Opens (creating it and its directory when missing, unless read-only) and migrates the
    // database to the current schema. A read-write open also marks as Interrupted every Running
    // experiment whose process is gone (killed, crashed, power loss).
    static std::unique_ptr<ExperimentStore> open(const std::filesystem::path& path,
                                                 Options options);
    static std::unique_ptr<ExperimentStore> open(const std::filesystem::path& path) {
        return open(path, Options{});
    }
    ~ExperimentStore();
    ExperimentStore(const ExperimentStore&) = delete;
    ExperimentStore& operator=(const ExperimentStore&) = delete;

    const std::filesystem::path& path() const;
    int schemaVersion() const;

    // Models and datasets are unique by (path, content hash); an existing row is updated and
    // its id returned.
    int64_t upsertModel(const ModelRecord& model);
    int64_t upsertDataset(const DatasetRecord& dataset);
    std::optional<ModelRecord> model(int64_t id) const;
    std::optional<DatasetRecord> dataset(int64_t id) const;

    // A file's content hash remembered by (path, size, modification and status-change time),
    // so that a large checkpoint is hashed once, not on every run.
    std::optional<std::string> knownHash(const std::filesystem::path& file,
                                         const FileStamp& stamp) const;
    void rememberHash(const std::filesystem::path& file, const FileStamp& stamp,
                      const std::string& hash);

    // Experiment lifecycle. beginExperiment() inserts the row as Running (filling id, created,
    // version) and holds a liveness lock until finishExperiment() or the process ends.
    int64_t beginExperiment(ExperimentRecord& experiment);
    void addVariants(int64_t experiment, const std::vector<VariantRecord>& variants);
    void addLayers(int64_t experiment, const std::vector<LayerRecord>& layers);
    // Stores the curves and spectra of `layer` (matched by name) into the row
    // recorded for it: the analysis of a layer computed after its run. Fails, naming the
    // experiment, when it has no such layer.
    void setLayerAnalysis(int64_t experiment, const LayerRecord& layer);
    int64_t addEvaluation(int64_t experiment, const EvaluationRecord& evaluation);
    void setCalibrationArtefact(int64_t experiment, int64_t artefact, bool reused);
    void finishExperiment(int64_t experiment, ExperimentStatus status,
                          const std::vector<std::pair<std::string, double>>& stageSeconds,
                          const std::string& error = {});
    void rename(int64_t experiment, const std::string& name, const std::string& notes);
    // Removes the experiment and its rows (not its artefacts: pruneCache() does that). Returns
    // false when no such experiment exists. A Running experiment is refused.
    bool deleteExperiment(int64_t experiment);

    std::vector<ExperimentSummary> listExperiments(const ExperimentFilter& filter = {}) const;
    std::optional<ExperimentRecord> experiment(int64_t id) const;
    std::vector<VariantRecord> variants(int64_t experiment) const;
    // withAnalysis = false leaves the curves and spectra empty (a faster table).
    std::vector<LayerRecord> layers(int64_t experiment, bool withAnalysis = true) const;
    std::vector<EvaluationRecord> evaluations(int64_t experiment) const;

    int64_t addExport(const ExportRecord& record);
    std::vector<ExportRecord> exports(int64_t experiment) const;

    // Artefacts (the files live in an ArtefactCache; these rows reference them by key).
    std::optional<ArtefactRecord> findArtefact(const std::string& key) const;
    // Adds the row, or updates the one with the same key (kind, description, bytes, last used)
    // and returns its id. Empty created/lastUsed mean now.
    int64_t addArtefact(const ArtefactRecord& artefact);
    void touchArtefact(int64_t id); // last_used = now
    std::vector<ArtefactRecord> artefacts() const;
    // Experiments that reference the artefact keep their rows; the reference becomes NULL.
    void removeArtefact(int64_t id);

    store::Database& database();

private:
    struct Impl;
    explicit ExperimentStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Default locations: the database is $RANKSCOPE_DB, else $XDG_DATA_HOME/rankscope/rankscope.db
// (XDG_DATA_HOME defaults to ~/.local/share); the cache is $RANKSCOPE_CACHE, else
// $XDG_CACHE_HOME/rankscope (defaults to ~/.cache/rankscope). An explicit --db wins over both.
std::filesystem::path defaultDatabasePath();
std::filesystem::path defaultCacheDirectory();
// The size the artefact cache is kept under when statistics are saved: $RANKSCOPE_CACHE_MAX_SIZE
// ("20G", bytes, ...) or 64 GiB. Fails naming the variable for a value that is not a size.
uint64_t defaultCacheCap();

// The RankScope version recorded with every experiment.
const char* rankscopeVersion();

} // namespace rs
