#include "store/experiment_store.h"

#include "store/blob.h"
#include "store/database.h"
#include "store/schema.h"
#include "util/error.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/file.h>
#include <unistd.h>

namespace rs {

using store::BlobType;
using store::Database;
using store::Statement;

namespace {

std::string nowUtc() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// SQLite stores NaN as NULL; read it back as NaN.
double realOrNan(const Statement& s, int column) {
    return s.isNull(column) ? std::numeric_limits<double>::quiet_NaN() : s.real(column);
}

std::optional<int64_t> optionalInteger(const Statement& s, int column) {
    return s.isNull(column) ? std::nullopt : std::optional<int64_t>(s.integer(column));
}

std::optional<int64_t> widen(std::optional<int> value) {
    return value ? std::optional<int64_t>(*value) : std::nullopt;
}

std::string optionalText(const Statement& s, int column) {
    return s.isNull(column) ? std::string() : s.text(column);
}

void bindSeries(Statement& s, int index, const std::vector<double>& values, BlobType type) {
    if (values.empty())
        s.bindNull(index);
    else
        s.bindBlob(index, store::encodeSeries(values, type));
}

std::vector<double> readSeries(const Statement& s, int column, const std::string& context) {
    if (s.isNull(column))
        return {};
    const auto bytes = s.blob(column);
    return store::decodeSeries(bytes.data(), bytes.size(), context);
}

nlohmann::json parseJson(const std::string& text, const std::string& context) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded())
        fail(context, "is not valid JSON");
    return value;
}

// Fast paths for the JSON this file writes (nlohmann's compact dump of plain strings and
// numbers): a general parser took most of the time of listing thousands of experiments. Anything
// else (escapes, spaces) returns false and goes through nlohmann.
bool readQuoted(std::string_view& in, std::string& out) {
    if (in.empty() || in[0] != '"')
        return false;
    const size_t end = in.find_first_of("\\\"", 1);
    if (end == std::string_view::npos || in[end] != '"')
        return false;
    out.assign(in.substr(1, end - 1));
    in.remove_prefix(end + 1);
    return true;
}

bool readChar(std::string_view& in, char c) {
    if (in.empty() || in[0] != c)
        return false;
    in.remove_prefix(1);
    return true;
}

// `item` reads one element; the array is "[]" or "[e,e,...]".
template <typename ReadItem> bool readArray(std::string_view in, ReadItem item) {
    if (!readChar(in, '['))
        return false;
    if (readChar(in, ']'))
        return in.empty();
    do {
        if (!item(in))
            return false;
    } while (readChar(in, ','));
    return readChar(in, ']') && in.empty();
}

std::vector<int64_t> parseIntegers(const std::string& text, const std::string& context) {
    try {
        return parseJson(text, context).get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception& e) {
        fail(context, e.what());
    }
}

// Names a column of an experiment in error messages; the text is built only when one is raised.
struct Column {
    const std::string& db;
    int64_t experiment;
    const char* what;
    std::string operator()() const {
        return db + ": experiment " + std::to_string(experiment) + " " + what;
    }
};

std::vector<std::string> parseStrings(const std::string& text, const Column& context) {
    std::vector<std::string> out;
    if (readArray(text, [&](std::string_view& in) { return readQuoted(in, out.emplace_back()); }))
        return out;
    out.clear();
    try {
        for (const auto& item : parseJson(text, context()))
            out.push_back(item.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
        fail(context(), e.what());
    }
    return out;
}

std::vector<std::pair<std::string, double>> parseStages(const std::string& text,
                                                        const Column& context) {
    std::vector<std::pair<std::string, double>> out;
    const bool fast = readArray(text, [&](std::string_view& in) {
        auto& [name, seconds] = out.emplace_back();
        if (!readChar(in, '[') || !readQuoted(in, name) || !readChar(in, ','))
            return false;
        const auto [end, error] = std::from_chars(in.data(), in.data() + in.size(), seconds);
        if (error != std::errc())
            return false;
        in.remove_prefix(static_cast<size_t>(end - in.data()));
        return readChar(in, ']');
    });
    if (fast)
        return out;
    out.clear();
    try {
        for (const auto& stage : parseJson(text, context())) {
            const auto& seconds = stage.at(1); // JSON has no NaN: nlohmann writes null
            out.emplace_back(stage.at(0).get<std::string>(),
                             seconds.is_number() ? seconds.get<double>()
                                                 : std::numeric_limits<double>::quiet_NaN());
        }
    } catch (const nlohmann::json::exception& e) {
        fail(context(), e.what());
    }
    return out;
}

// --- Liveness locks ----------------------------------------------------------------------------
// A running experiment's process holds an exclusive flock() on its lock file. The kernel drops
// it when the process ends in any way, so a lock that can be taken means the owner is gone.

// Beside the database's real path, so that every process finds the same locks whichever
// path (relative, through a symbolic link) it opened the database by.
std::filesystem::path lockDirectory(const std::filesystem::path& database) {
    std::error_code error;
    const std::filesystem::path real = std::filesystem::weakly_canonical(database, error);
    return (error ? std::filesystem::absolute(database) : real).string() + ".locks";
}

std::filesystem::path lockFile(const std::filesystem::path& dir, int64_t experiment) {
    return dir / ("experiment-" + std::to_string(experiment) + ".lock");
}

int acquireLock(const std::filesystem::path& file) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    if (error)
        fail(file.parent_path().string(), "cannot create the lock directory: " + error.message());
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(file.string(), std::string("cannot create the lock file: ") + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int code = errno;
        ::close(fd);
        fail(file.string(), std::string("cannot lock: ") + std::strerror(code));
    }
    return fd;
}

// Unlinks while still holding the lock, so that nobody can take a lock on a file about to go.
void releaseLock(const std::filesystem::path& file, int fd) {
    ::unlink(file.c_str());
    ::close(fd);
}

// True when no live process holds the file's lock; a free lock file is removed.
bool ownerGone(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    releaseLock(file, fd);
    return true;
}

// --- Row mapping -------------------------------------------------------------------------------

constexpr const char* kExperimentColumns =
    "e.id, e.name, e.notes, e.model_id, e.calib_dataset_id, e.eval_dataset_id, e.calib_mode, "
    "e.calib_tokens, e.calib_seq_len, e.compression, e.compensations, e.rank_plan, e.request, "
    "e.status, e.error, e.stage_seconds, e.version, e.created, e.finished, "
    "e.calibration_artefact_id, e.calibration_reused";
constexpr int kExperimentColumnCount = 21;

ExperimentRecord readExperiment(const Statement& s, const std::string& db) {
    ExperimentRecord e;
    e.id = s.integer(0);
    e.name = s.text(1);
    e.notes = s.text(2);
    e.modelId = s.integer(3);
    e.calibDatasetId = optionalInteger(s, 4);
    e.evalDatasetId = optionalInteger(s, 5);
    e.calibMode = s.text(6);
    e.calibTokens = s.integer(7);
    e.calibSeqLen = s.integer(8);
    e.compression = s.text(9);
    e.compensations = parseStrings(s.text(10), {db, e.id, "compensations"});
    e.rankPlan = s.text(11);
    e.request = s.text(12);
    const auto status = parseStatus(s.text(13));
    if (!status)
        fail(Column{db, e.id, "status"}(), "unknown value '" + s.text(13) + "'");
    e.status = *status;
    e.error = s.text(14);
    e.stageSeconds = parseStages(s.text(15), {db, e.id, "stage timings"});
    e.version = s.text(16);
    e.created = s.text(17);
    e.finished = optionalText(s, 18);
    e.calibrationArtefact = optionalInteger(s, 19);
    e.calibrationReused = s.integer(20) != 0;
    return e;
}

std::string stagesJson(const std::vector<std::pair<std::string, double>>& stages) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, seconds] : stages)
        out.push_back({name, seconds});
    return out.dump();
}

ArtefactRecord readArtefact(const Statement& s) {
    return {s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.text(5), s.text(6)};
}

constexpr const char* kArtefactColumns =
    "SELECT id, key, kind, description, bytes, created, last_used FROM artefacts";

} // namespace

struct ExperimentStore::Impl {
    Impl(const std::filesystem::path& path, const Options& options)
        : db(path, options.readOnly ? Database::Mode::ReadOnly : Database::Mode::ReadWrite,
             static_cast<int>(options.busyTimeout.count()))
        , lockDir(lockDirectory(path)) {}
    ~Impl() {
        // Closing releases the locks: an unfinished experiment reads as interrupted later.
        for (const auto& [id, fd] : locks)
            ::close(fd);
    }

    // Fails with "no experiment N" rather than a bare foreign key error.
    void requireExperiment(int64_t id) {
        Statement s = db.prepare("SELECT 1 FROM experiments WHERE id = ?");
        if (!s.bind(1, id).step())
            fail(db.path().string(), "no experiment " + std::to_string(id));
    }

    std::vector<int64_t> runningExperiments() {
        std::vector<int64_t> ids;
        Statement s = db.prepare("SELECT id FROM experiments WHERE status = 'running'");
        while (s.step())
            ids.push_back(s.integer(0));
        return ids;
    }

    void markInterrupted();

    Database db;
    std::filesystem::path lockDir;
    std::map<int64_t, int> locks; // experiment -> descriptor holding its liveness lock
};

// Runs under the write lock: an experiment is inserted and its lock taken in one transaction
// (beginExperiment), so no Running row is ever visible here without its lock held.
void ExperimentStore::Impl::markInterrupted() {
    Database::Action action(db, "cannot mark interrupted experiments");
    std::error_code error;
    const bool lockFiles =
        std::filesystem::exists(lockDir, error) && !std::filesystem::is_empty(lockDir, error);
    if (!lockFiles && runningExperiments().empty())
        return;
    Database::Transaction transaction(db);
    std::set<int64_t> alive;
    Statement mark = db.prepare("UPDATE experiments SET status = 'interrupted', finished = ?, "
                                "error = 'the process running it ended before it finished' "
                                "WHERE id = ?");
    const std::string now = nowUtc();
    for (const int64_t id : runningExperiments()) {
        if (!ownerGone(lockFile(lockDir, id))) {
            alive.insert(id);
            continue;
        }
        mark.bind(1, now).bind(2, id).run();
        mark.reset();
    }
    // Lock files left behind by finished experiments (a crash between commit and unlink).
    for (const auto& entry : std::filesystem::directory_iterator(lockDir, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("experiment-", 0) != 0)
            continue;
        const int64_t id = std::atoll(name.c_str() + std::strlen("experiment-"));
        if (!alive.count(id))
            ownerGone(entry.path());
    }
    transaction.commit();
}

std::unique_ptr<ExperimentStore> ExperimentStore::open(const std::filesystem::path& path,
                                                       Options options) {
    if (!options.readOnly && path.has_parent_path()) {
        std::error_code error;
        std::filesystem::create_directories(path.parent_path(), error);
        if (error)
            fail(path.string(), "cannot create the directory " + path.parent_path().string() +
                                    ": " + error.message());
    }
    auto impl = std::make_unique<Impl>(path, options);
    store::migrate(impl->db);
    if (!options.readOnly)
        impl->markInterrupted();
    return std::unique_ptr<ExperimentStore>(new ExperimentStore(std::move(impl)));
}

ExperimentStore::ExperimentStore(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl)) {}

ExperimentStore::~ExperimentStore() = default;

const std::filesystem::path& ExperimentStore::path() const {
    return m_impl->db.path();
}

int ExperimentStore::schemaVersion() const {
    return store::schemaVersionOf(m_impl->db);
}

store::Database& ExperimentStore::database() {
    return m_impl->db;
}

// --- Models, datasets, file hashes -------------------------------------------------------------

int64_t ExperimentStore::upsertModel(const ModelRecord& m) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the model");
    Database::Transaction transaction(db);
    Statement s = db.prepare(
        "INSERT INTO models (path, content_hash, architecture, layers, hidden, intermediate, "
        "heads, kv_heads, vocab, parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (path, content_hash) DO UPDATE SET architecture = excluded.architecture, "
        "layers = excluded.layers, hidden = excluded.hidden, intermediate = "
        "excluded.intermediate, heads = excluded.heads, kv_heads = excluded.kv_heads, "
        "vocab = excluded.vocab, parameters = excluded.parameters RETURNING id");
    s.bind(1, m.path).bind(2, m.contentHash).bind(3, m.architecture).bind(4, m.layers);
    s.bind(5, m.hidden).bind(6, m.intermediate).bind(7, m.heads).bind(8, m.kvHeads);
    s.bind(9, m.vocab).bind(10, m.parameters).step();
    const int64_t id = s.integer(0);
    s.reset();
    transaction.commit();
    return id;
}

int64_t ExperimentStore::upsertDataset(const DatasetRecord& d) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the dataset");
    Database::Transaction transaction(db);
    Statement s = db.prepare("INSERT INTO datasets (path, content_hash, protocol, tokens) "
                             "VALUES (?, ?, ?, ?) ON CONFLICT (path, content_hash) DO UPDATE "
                             "SET protocol = excluded.protocol, tokens = excluded.tokens "
                             "RETURNING id");
    s.bind(1, d.path).bind(2, d.contentHash).bind(3, d.protocol).bind(4, d.tokens).step();
    const int64_t id = s.integer(0);
    s.reset();
    transaction.commit();
    return id;
}

std::optional<ModelRecord> ExperimentStore::model(int64_t id) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read model " + std::to_string(id));
    Statement s = db.prepare("SELECT id, path, content_hash, architecture, layers, hidden, "
                             "intermediate, heads, kv_heads, vocab, parameters FROM models "
                             "WHERE id = ?");
    if (!s.bind(1, id).step())
        return std::nullopt;
    return ModelRecord{s.integer(0), s.text(1),    s.text(2),    s.text(3),
                       s.integer(4), s.integer(5), s.integer(6), s.integer(7),
                       s.integer(8), s.integer(9), s.integer(10)};
}

std::optional<DatasetRecord> ExperimentStore::dataset(int64_t id) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read dataset " + std::to_string(id));
    Statement s =
        db.prepare("SELECT id, path, content_hash, protocol, tokens FROM datasets WHERE id = ?");
    if (!s.bind(1, id).step())
        return std::nullopt;
    return DatasetRecord{s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4)};
}

std::optional<std::string> ExperimentStore::knownHash(const std::filesystem::path& file,
                                                      int64_t size, int64_t mtimeNs) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read the remembered hash of " + file.string());
    Statement s =
        db.prepare("SELECT hash FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?");
    if (!s.bind(1, file.string()).bind(2, size).bind(3, mtimeNs).step())
        return std::nullopt;
    return s.text(0);
}

void ExperimentStore::rememberHash(const std::filesystem::path& file, int64_t size, int64_t mtimeNs,
                                   const std::string& hash) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot remember the hash of " + file.string());
    Database::Transaction transaction(db);
    db.prepare("INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, hash) "
               "VALUES (?, ?, ?, ?)")
        .bind(1, file.string())
        .bind(2, size)
        .bind(3, mtimeNs)
        .bind(4, hash)
        .run();
    transaction.commit();
}

// --- Experiment lifecycle ----------------------------------------------------------------------

int64_t ExperimentStore::beginExperiment(ExperimentRecord& e) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the new experiment");
    Database::Transaction transaction(db);
    const std::string created = nowUtc();
    Statement s = db.prepare(
        "INSERT INTO experiments (name, notes, model_id, calib_dataset_id, eval_dataset_id, "
        "calib_mode, calib_tokens, calib_seq_len, compression, compensations, rank_plan, "
        "request, status, version, created, calibration_artefact_id, calibration_reused) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)");
    s.bind(1, e.name).bind(2, e.notes).bind(3, e.modelId).bind(4, e.calibDatasetId);
    s.bind(5, e.evalDatasetId).bind(6, e.calibMode).bind(7, e.calibTokens);
    s.bind(8, e.calibSeqLen).bind(9, e.compression);
    s.bind(10, nlohmann::json(e.compensations).dump()).bind(11, e.rankPlan).bind(12, e.request);
    s.bind(13, rankscopeVersion()).bind(14, created).bind(15, e.calibrationArtefact);
    s.bind(16, int64_t(e.calibrationReused)).run();
    const int64_t id = db.lastInsertId();
    const std::filesystem::path file = lockFile(m_impl->lockDir, id);
    const int fd = acquireLock(file);
    try {
        transaction.commit();
    } catch (...) {
        releaseLock(file, fd);
        throw;
    }
    m_impl->locks[id] = fd;
    e.id = id;
    e.status = ExperimentStatus::Running;
    e.version = rankscopeVersion();
    e.created = created;
    e.finished.clear();
    return id;
}

void ExperimentStore::addVariants(int64_t experiment, const std::vector<VariantRecord>& variants) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the variants of experiment " +
                                    std::to_string(experiment));
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    Statement s = db.prepare(
        "INSERT INTO variants (experiment_id, position, compensation, rank, label, "
        "adapter_parameters) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (experiment_id, position) "
        "DO UPDATE SET compensation = excluded.compensation, rank = excluded.rank, "
        "label = excluded.label, adapter_parameters = excluded.adapter_parameters");
    for (const VariantRecord& v : variants) {
        s.bind(1, experiment).bind(2, int64_t(v.index)).bind(3, v.compensation).bind(4, v.rank);
        s.bind(5, v.label).bind(6, v.adapterParameters).run();
        s.reset();
    }
    transaction.commit();
}

void ExperimentStore::addLayers(int64_t experiment, const std::vector<LayerRecord>& layers) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot insert layer results");
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    Statement next =
        db.prepare("SELECT coalesce(max(position) + 1, 0) FROM layers WHERE experiment_id = ?");
    next.bind(1, experiment).step();
    int64_t position = next.integer(0);
    next.reset();
    Statement s = db.prepare(
        "INSERT INTO layers (experiment_id, position, name, block, kind, out_features, "
        "in_features, sparsity, discarded_modes, output_energy, error_energy, "
        "heldout_output_energy, heldout_error_energy, ranks, error_after, heldout_error_after, "
        "curve_svd, curve_eora, gram_eigenvalues, weight_singular, error_singular, "
        "scaled_error_singular) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?)");
    for (const LayerRecord& l : layers) {
        s.bind(1, experiment).bind(2, position++).bind(3, l.name).bind(4, l.block);
        s.bind(5, l.kind).bind(6, l.outFeatures).bind(7, l.inFeatures).bind(8, l.sparsity);
        s.bind(9, l.discardedModes).bind(10, l.outputEnergy).bind(11, l.errorEnergy);
        s.bind(12, l.heldoutOutputEnergy).bind(13, l.heldoutErrorEnergy);
        s.bind(14, nlohmann::json(l.ranks).dump());
        bindSeries(s, 15, l.errorAfter, BlobType::Float64);
        bindSeries(s, 16, l.heldoutErrorAfter, BlobType::Float64);
        bindSeries(s, 17, l.curveSvd, BlobType::Float64);
        bindSeries(s, 18, l.curveEora, BlobType::Float64);
        bindSeries(s, 19, l.gramEigenvalues, BlobType::Float32);
        bindSeries(s, 20, l.weightSingular, BlobType::Float32);
        bindSeries(s, 21, l.errorSingular, BlobType::Float32);
        bindSeries(s, 22, l.scaledErrorSingular, BlobType::Float32);
        s.run();
        s.reset();
    }
    transaction.commit();
}

int64_t ExperimentStore::addEvaluation(int64_t experiment, const EvaluationRecord& e) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the evaluation");
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    db.prepare("INSERT INTO evaluations (experiment_id, variant, dataset_id, protocol, seq_len, "
               "tokens, perplexity, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, experiment)
        .bind(2, widen(e.variant))
        .bind(3, e.datasetId)
        .bind(4, e.protocol)
        .bind(5, e.seqLen)
        .bind(6, e.tokens)
        .bind(7, e.perplexity)
        .bind(8, e.seconds)
        .run();
    const int64_t id = db.lastInsertId();
    transaction.commit();
    return id;
}

void ExperimentStore::setCalibrationArtefact(int64_t experiment, int64_t artefact, bool reused) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the calibration artefact");
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    db.prepare("UPDATE experiments SET calibration_artefact_id = ?, calibration_reused = ? "
               "WHERE id = ?")
        .bind(1, artefact)
        .bind(2, int64_t(reused))
        .bind(3, experiment)
        .run();
    transaction.commit();
}

void ExperimentStore::finishExperiment(
    int64_t experiment, ExperimentStatus status,
    const std::vector<std::pair<std::string, double>>& stageSeconds, const std::string& error) {
    Database& db = m_impl->db;
    if (status == ExperimentStatus::Running)
        fail(db.path().string(),
             "experiment " + std::to_string(experiment) + " cannot be finished as running");
    Database::Action action(db,
                            "cannot record the end of experiment " + std::to_string(experiment));
    {
        Database::Transaction transaction(db);
        m_impl->requireExperiment(experiment);
        db.prepare("UPDATE experiments SET status = ?, stage_seconds = ?, error = ?, "
                   "finished = ? WHERE id = ?")
            .bind(1, statusName(status))
            .bind(2, stagesJson(stageSeconds))
            .bind(3, error)
            .bind(4, nowUtc())
            .bind(5, experiment)
            .run();
        transaction.commit();
    }
    // Only after the commit: until then the experiment must still read as alive.
    if (const auto lock = m_impl->locks.find(experiment); lock != m_impl->locks.end()) {
        releaseLock(lockFile(m_impl->lockDir, experiment), lock->second);
        m_impl->locks.erase(lock);
    }
}

void ExperimentStore::rename(int64_t experiment, const std::string& name,
                             const std::string& notes) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot rename experiment " + std::to_string(experiment));
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    db.prepare("UPDATE experiments SET name = ?, notes = ? WHERE id = ?")
        .bind(1, name)
        .bind(2, notes)
        .bind(3, experiment)
        .run();
    transaction.commit();
}

bool ExperimentStore::deleteExperiment(int64_t experiment) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot delete experiment " + std::to_string(experiment));
    Database::Transaction transaction(db);
    Statement status = db.prepare("SELECT status FROM experiments WHERE id = ?");
    if (!status.bind(1, experiment).step())
        return false;
    if (status.text(0) == statusName(ExperimentStatus::Running))
        fail(db.path().string(), "experiment " + std::to_string(experiment) +
                                     " is still running; it cannot be deleted");
    status.reset();
    db.prepare("DELETE FROM experiments WHERE id = ?").bind(1, experiment).run();
    transaction.commit();
    return true;
}

// --- Reading -----------------------------------------------------------------------------------

std::vector<ExperimentSummary> ExperimentStore::listExperiments(const ExperimentFilter& f) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot list experiments");
    // One query: the counts and the best perplexity are correlated subqueries over indexes.
    Statement s = db.prepare(std::string("SELECT ") + kExperimentColumns +
                             ", m.path, d.path, "
                             "(SELECT count(*) FROM layers l WHERE l.experiment_id = e.id), "
                             "(SELECT min(v.perplexity) FROM evaluations v "
                             " WHERE v.experiment_id = e.id AND v.variant IS NOT NULL) "
                             "FROM experiments e JOIN models m ON m.id = e.model_id "
                             "LEFT JOIN datasets d ON d.id = e.calib_dataset_id "
                             "WHERE (?1 = '' OR instr(m.path, ?1) > 0 "
                             "       OR substr(m.content_hash, 1, length(?1)) = lower(?1)) "
                             "  AND (?2 IS NULL OR e.status = ?2) "
                             "ORDER BY e.created DESC, e.id DESC LIMIT ?3");
    s.bind(1, f.model);
    if (f.status)
        s.bind(2, statusName(*f.status));
    s.bind(3, f.limit > 0 ? f.limit : int64_t(-1));
    std::vector<ExperimentSummary> out;
    const int c = kExperimentColumnCount;
    while (s.step()) {
        ExperimentSummary summary;
        summary.experiment = readExperiment(s, db.path().string());
        summary.modelPath = s.text(c);
        summary.calibPath = optionalText(s, c + 1);
        summary.layerCount = s.integer(c + 2);
        if (!s.isNull(c + 3))
            summary.bestPerplexity = s.real(c + 3);
        out.push_back(std::move(summary));
    }
    return out;
}

std::optional<ExperimentRecord> ExperimentStore::experiment(int64_t id) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read experiment " + std::to_string(id));
    Statement s = db.prepare(std::string("SELECT ") + kExperimentColumns +
                             " FROM experiments e WHERE e.id = ?");
    if (!s.bind(1, id).step())
        return std::nullopt;
    return readExperiment(s, db.path().string());
}

std::vector<VariantRecord> ExperimentStore::variants(int64_t experiment) const {
    Database& db = m_impl->db;
    Database::Action action(db,
                            "cannot read the variants of experiment " + std::to_string(experiment));
    Statement s = db.prepare("SELECT position, compensation, rank, label, adapter_parameters "
                             "FROM variants WHERE experiment_id = ? ORDER BY position");
    s.bind(1, experiment);
    std::vector<VariantRecord> out;
    while (s.step())
        out.push_back(
            {static_cast<int>(s.integer(0)), s.text(1), s.integer(2), s.text(3), s.integer(4)});
    return out;
}

std::vector<LayerRecord> ExperimentStore::layers(int64_t experiment, bool withAnalysis) const {
    Database& db = m_impl->db;
    Database::Action action(db,
                            "cannot read the layers of experiment " + std::to_string(experiment));
    std::string sql = "SELECT name, block, kind, out_features, in_features, sparsity, "
                      "discarded_modes, output_energy, error_energy, heldout_output_energy, "
                      "heldout_error_energy, ranks, error_after, heldout_error_after";
    if (withAnalysis)
        sql += ", curve_svd, curve_eora, gram_eigenvalues, weight_singular, error_singular, "
               "scaled_error_singular";
    sql += " FROM layers WHERE experiment_id = ? ORDER BY position";
    Statement s = db.prepare(sql);
    s.bind(1, experiment);
    std::vector<LayerRecord> out;
    while (s.step()) {
        LayerRecord l;
        l.name = s.text(0);
        const std::string context =
            db.path().string() + ": experiment " + std::to_string(experiment) + " layer " + l.name;
        l.block = s.integer(1);
        l.kind = s.text(2);
        l.outFeatures = s.integer(3);
        l.inFeatures = s.integer(4);
        l.sparsity = realOrNan(s, 5);
        l.discardedModes = s.integer(6);
        l.outputEnergy = realOrNan(s, 7);
        l.errorEnergy = realOrNan(s, 8);
        l.heldoutOutputEnergy = realOrNan(s, 9);
        l.heldoutErrorEnergy = realOrNan(s, 10);
        l.ranks = parseIntegers(s.text(11), context + " ranks");
        l.errorAfter = readSeries(s, 12, context);
        l.heldoutErrorAfter = readSeries(s, 13, context);
        if (withAnalysis) {
            l.curveSvd = readSeries(s, 14, context);
            l.curveEora = readSeries(s, 15, context);
            l.gramEigenvalues = readSeries(s, 16, context);
            l.weightSingular = readSeries(s, 17, context);
            l.errorSingular = readSeries(s, 18, context);
            l.scaledErrorSingular = readSeries(s, 19, context);
        }
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<EvaluationRecord> ExperimentStore::evaluations(int64_t experiment) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read the evaluations of experiment " +
                                    std::to_string(experiment));
    Statement s = db.prepare("SELECT id, variant, dataset_id, protocol, seq_len, tokens, "
                             "perplexity, seconds FROM evaluations WHERE experiment_id = ? "
                             "ORDER BY id");
    s.bind(1, experiment);
    std::vector<EvaluationRecord> out;
    while (s.step()) {
        EvaluationRecord e;
        e.id = s.integer(0);
        if (!s.isNull(1))
            e.variant = static_cast<int>(s.integer(1));
        e.datasetId = optionalInteger(s, 2);
        e.protocol = s.text(3);
        e.seqLen = s.integer(4);
        e.tokens = s.integer(5);
        e.perplexity = realOrNan(s, 6);
        e.seconds = s.real(7);
        out.push_back(std::move(e));
    }
    return out;
}

// --- Exports and artefacts ---------------------------------------------------------------------

int64_t ExperimentStore::addExport(const ExportRecord& r) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the export " + r.path);
    Database::Transaction transaction(db);
    m_impl->requireExperiment(r.experimentId);
    db.prepare("INSERT INTO exports (experiment_id, variant, path, format, content_hash, "
               "created) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(1, r.experimentId)
        .bind(2, widen(r.variant))
        .bind(3, r.path)
        .bind(4, r.format)
        .bind(5, r.contentHash)
        .bind(6, r.created.empty() ? nowUtc() : r.created)
        .run();
    const int64_t id = db.lastInsertId();
    transaction.commit();
    return id;
}

std::vector<ExportRecord> ExperimentStore::exports(int64_t experiment) const {
    Database& db = m_impl->db;
    Database::Action action(db,
                            "cannot read the exports of experiment " + std::to_string(experiment));
    Statement s = db.prepare("SELECT id, experiment_id, variant, path, format, content_hash, "
                             "created FROM exports WHERE experiment_id = ? ORDER BY id");
    s.bind(1, experiment);
    std::vector<ExportRecord> out;
    while (s.step()) {
        ExportRecord r{s.integer(0), s.integer(1), std::nullopt, s.text(3),
                       s.text(4),    s.text(5),    s.text(6)};
        if (!s.isNull(2))
            r.variant = static_cast<int>(s.integer(2));
        out.push_back(std::move(r));
    }
    return out;
}

std::optional<ArtefactRecord> ExperimentStore::findArtefact(const std::string& key) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot look up artefact " + key);
    Statement s = db.prepare(std::string(kArtefactColumns) + " WHERE key = ?");
    if (!s.bind(1, key).step())
        return std::nullopt;
    return readArtefact(s);
}

int64_t ExperimentStore::addArtefact(const ArtefactRecord& a) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record artefact " + a.key);
    Database::Transaction transaction(db);
    const std::string now = nowUtc();
    // An artefact written again (after the old files were found damaged) keeps its row and id.
    Statement s = db.prepare(
        "INSERT INTO artefacts (key, kind, description, bytes, created, last_used) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, "
        "description = excluded.description, bytes = excluded.bytes, "
        "last_used = excluded.last_used RETURNING id");
    s.bind(1, a.key).bind(2, a.kind).bind(3, a.description).bind(4, a.bytes);
    s.bind(5, a.created.empty() ? now : a.created).bind(6, a.lastUsed.empty() ? now : a.lastUsed);
    s.step();
    const int64_t id = s.integer(0);
    s.reset();
    transaction.commit();
    return id;
}

void ExperimentStore::touchArtefact(int64_t id) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot mark artefact " + std::to_string(id) + " as used");
    Database::Transaction transaction(db);
    db.prepare("UPDATE artefacts SET last_used = ? WHERE id = ?")
        .bind(1, nowUtc())
        .bind(2, id)
        .run();
    transaction.commit();
}

std::vector<ArtefactRecord> ExperimentStore::artefacts() const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot list artefacts");
    Statement s = db.prepare(std::string(kArtefactColumns) + " ORDER BY last_used, id");
    std::vector<ArtefactRecord> out;
    while (s.step())
        out.push_back(readArtefact(s));
    return out;
}

void ExperimentStore::removeArtefact(int64_t id) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot remove artefact " + std::to_string(id));
    Database::Transaction transaction(db);
    db.prepare("DELETE FROM artefacts WHERE id = ?").bind(1, id).run();
    transaction.commit();
}

} // namespace rs
