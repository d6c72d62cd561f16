#pragma once

// Internal to the ExperimentStore's sources (experiment_*.cpp): its connection state and the row
// helpers they share. Nothing outside core/store includes it.

#include "store/blob.h"
#include "store/database.h"
#include "store/experiment_store.h"

#include <map>

namespace rs {

struct ExperimentStore::Impl {
    Impl(const std::filesystem::path& path, const Options& options);
    ~Impl();

    // Fails with "no experiment N" rather than a bare foreign key error.
    void requireExperiment(int64_t id);
    std::vector<int64_t> runningExperiments();
    void markInterrupted();

    store::Database db;
    std::filesystem::path lockDir;
    std::map<int64_t, int> locks; // experiment -> descriptor holding its liveness lock
};

namespace store {

// Liveness locks (experiment_store.cpp).
std::filesystem::path lockFile(const std::filesystem::path& dir, int64_t experiment);
int acquireLock(const std::filesystem::path& file);
void releaseLock(const std::filesystem::path& file, int fd);

// Row mapping (experiment_rows.cpp).
std::string nowUtc();
double realOrNan(const Statement& s, int column);
std::optional<int64_t> optionalInteger(const Statement& s, int column);
std::optional<int64_t> widen(std::optional<int> value);
std::string optionalText(const Statement& s, int column);
void bindSeries(Statement& s, int index, const std::vector<double>& values, BlobType type);
std::vector<double> readSeries(const Statement& s, int column, const std::string& context);
std::vector<int64_t> parseIntegers(const std::string& text, const std::string& context);

inline constexpr const char* kExperimentColumns =
    "e.id, e.name, e.notes, e.model_id, e.calib_dataset_id, e.eval_dataset_id, e.calib_mode, "
    "e.calib_tokens, e.calib_seq_len, e.compression, e.compensations, e.rank_plan, e.request, "
    "e.status, e.error, e.stage_seconds, e.version, e.created, e.finished, "
    "e.calibration_artefact_id, e.calibration_reused, e.kind, e.model_files";
inline constexpr int kExperimentColumnCount = 23;

ExperimentRecord readExperiment(const Statement& s, const std::string& db);
std::string stagesJson(const std::vector<std::pair<std::string, double>>& stages);

inline constexpr const char* kArtefactColumns =
    "SELECT id, key, kind, description, bytes, created, last_used FROM artefacts";

ArtefactRecord readArtefact(const Statement& s);

} // namespace store

} // namespace rs
