#include "store/schema.h"

#include "store/database.h"
#include "util/error.h"

namespace rs::store {

namespace {

// PRAGMA application_id of every RankScope database ("RSCP"): tells our files from other
// SQLite databases that happen to carry a user_version.
constexpr int64_t kApplicationId = 0x52534350;

// Version 1: models, texts, artefacts, experiments and their results.
const char* const kVersion1 = R"sql(
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    architecture TEXT NOT NULL,
    layers INTEGER NOT NULL,
    hidden INTEGER NOT NULL,
    intermediate INTEGER NOT NULL,
    heads INTEGER NOT NULL,
    kv_heads INTEGER NOT NULL,
    vocab INTEGER NOT NULL,
    parameters INTEGER NOT NULL,
    UNIQUE (path, content_hash)
);

CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    protocol TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    UNIQUE (path, content_hash)
);

CREATE TABLE artefacts (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    bytes INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_used TEXT NOT NULL
);

-- AUTOINCREMENT: an experiment id shown to the user is never reused after a delete.
-- compensations and stage_seconds are JSON arrays; finished is NULL while running.
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id INTEGER NOT NULL REFERENCES models (id),
    calib_dataset_id INTEGER REFERENCES datasets (id),
    eval_dataset_id INTEGER REFERENCES datasets (id),
    calib_mode TEXT NOT NULL,
    calib_tokens INTEGER NOT NULL,
    calib_seq_len INTEGER NOT NULL,
    compression TEXT NOT NULL,
    compensations TEXT NOT NULL DEFAULT '[]',
    rank_plan TEXT NOT NULL DEFAULT '',
    request TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL
        CHECK (status IN ('running', 'done', 'failed', 'cancelled', 'interrupted')),
    error TEXT NOT NULL DEFAULT '',
    stage_seconds TEXT NOT NULL DEFAULT '[]',
    version TEXT NOT NULL,
    created TEXT NOT NULL,
    finished TEXT,
    calibration_artefact_id INTEGER REFERENCES artefacts (id) ON DELETE SET NULL,
    calibration_reused INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX experiments_created ON experiments (created DESC, id DESC);
CREATE INDEX experiments_model ON experiments (model_id, created DESC, id DESC);
CREATE INDEX experiments_running ON experiments (id) WHERE status = 'running';
CREATE INDEX experiments_artefact ON experiments (calibration_artefact_id);

CREATE TABLE variants (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    compensation TEXT NOT NULL,
    rank INTEGER NOT NULL,
    label TEXT NOT NULL,
    adapter_parameters INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, position)
) WITHOUT ROWID;

-- ranks is a JSON array; the per-variant errors are float64 series, the curves float64 series
-- and the spectra float32 series (blob.h); NULL when absent.
CREATE TABLE layers (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    kind TEXT NOT NULL,
    out_features INTEGER NOT NULL,
    in_features INTEGER NOT NULL,
    sparsity REAL,
    discarded_modes INTEGER NOT NULL,
    output_energy REAL,
    error_energy REAL,
    heldout_output_energy REAL,
    heldout_error_energy REAL,
    ranks TEXT NOT NULL DEFAULT '[]',
    error_after BLOB,
    heldout_error_after BLOB,
    curve_svd BLOB,
    curve_eora BLOB,
    gram_eigenvalues BLOB,
    weight_singular BLOB,
    error_singular BLOB,
    scaled_error_singular BLOB,
    UNIQUE (experiment_id, position)
);

-- variant NULL: the original model.
CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    variant INTEGER,
    dataset_id INTEGER REFERENCES datasets (id),
    protocol TEXT NOT NULL,
    seq_len INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    perplexity REAL,
    seconds REAL NOT NULL,
    FOREIGN KEY (experiment_id, variant) REFERENCES variants (experiment_id, position)
        ON DELETE CASCADE
);
CREATE INDEX evaluations_experiment ON evaluations (experiment_id, variant);
)sql";

// Version 2: experiment names and notes, exports, and the file-hash memo.
const char* const kVersion2 = R"sql(
ALTER TABLE experiments ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE experiments ADD COLUMN notes TEXT NOT NULL DEFAULT '';

CREATE TABLE exports (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    variant INTEGER,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    FOREIGN KEY (experiment_id, variant) REFERENCES variants (experiment_id, position)
        ON DELETE CASCADE
);
CREATE INDEX exports_experiment ON exports (experiment_id, variant);

CREATE TABLE file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 3: measured layer sensitivities (perplexity with only one layer compressed), keyed by
// a content key of the model, compression, calibration and evaluation (see pipeline/sensitivity).
const char* const kVersion3 = R"sql(
CREATE TABLE layer_sensitivity (
    key TEXT NOT NULL,
    layer TEXT NOT NULL,
    perplexity REAL NOT NULL,
    baseline REAL NOT NULL,
    tokens INTEGER NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (key, layer)
) WITHOUT ROWID;
)sql";

// Version 4: Lillama's distillation per variant and decoder block: the training loss of every
// step and the checked losses (JSON steps, float64 series) that chose the kept weights.
const char* const kVersion4 = R"sql(
CREATE TABLE distillations (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    variant INTEGER NOT NULL,
    block INTEGER NOT NULL,
    train_loss BLOB NOT NULL,
    eval_steps TEXT NOT NULL DEFAULT '[]',
    eval_loss BLOB NOT NULL,
    best_step INTEGER NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (experiment_id, variant, block),
    FOREIGN KEY (experiment_id, variant) REFERENCES variants (experiment_id, position)
        ON DELETE CASCADE
) WITHOUT ROWID;
)sql";

// Version 5: what each experiment ran, 'compress' or 'lowrank' (ExperimentKind), so that readers
// stop guessing it from the request JSON. Earlier rows are back-filled from that JSON: low-rank
// requests carry {"kind": "lowrank"}, compression requests no kind key.
const char* const kVersion5 = R"sql(
ALTER TABLE experiments ADD COLUMN kind TEXT NOT NULL DEFAULT 'compress'
    CHECK (kind IN ('compress', 'lowrank'));
UPDATE experiments SET kind = 'lowrank'
    WHERE CASE WHEN json_valid(request) THEN json_extract(request, '$.kind') = 'lowrank' END;
)sql";

// Version 6: the model's side files (config, tokenizer) each experiment ran with, as JSON (see
// pipeline/model_files.h), and the file-hash memo keyed by the status-change time as well. The
// memo is only a cache, so its old rows are dropped rather than trusted without that time.
const char* const kVersion6 = R"sql(
ALTER TABLE experiments ADD COLUMN model_files TEXT NOT NULL DEFAULT '';
DROP TABLE file_hashes;
CREATE TABLE file_hashes (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL
) WITHOUT ROWID;
)sql";

int64_t pragmaInteger(Database& db, const char* sql) {
    Statement s = db.prepare(sql);
    s.step();
    return s.integer(0);
}

// Refuses what this build must not touch, before anything is written.
void checkCompatible(Database& db, int version) {
    const std::string name = db.path().string();
    if (version == 0) {
        if (pragmaInteger(db, "SELECT count(*) FROM sqlite_master") > 0)
            fail(name, "not a RankScope database (it holds tables of its own and no RankScope "
                       "schema version); it was left untouched");
        return;
    }
    const int64_t application = pragmaInteger(db, "PRAGMA application_id");
    if (application != kApplicationId)
        fail(name, "not a RankScope database (SQLite application id " +
                       std::to_string(application) + ", schema version " + std::to_string(version) +
                       "); it was left untouched");
    if (version > currentSchemaVersion())
        fail(name, "the database has schema version " + std::to_string(version) +
                       ", newer than version " + std::to_string(currentSchemaVersion()) +
                       " that this RankScope reads: it was written by a newer RankScope; "
                       "upgrade RankScope to open it");
}

} // namespace

const std::vector<std::string>& migrations() {
    static const std::vector<std::string> all{kVersion1, kVersion2, kVersion3,
                                              kVersion4, kVersion5, kVersion6};
    return all;
}

int currentSchemaVersion() {
    return static_cast<int>(migrations().size());
}

int schemaVersionOf(Database& db) {
    Database::Action action(db, "cannot read the schema version");
    return static_cast<int>(pragmaInteger(db, "PRAGMA user_version"));
}

void migrate(Database& db) {
    migrateTo(db, currentSchemaVersion());
}

void migrateTo(Database& db, int version) {
    if (version < 0 || version > currentSchemaVersion())
        fail(db.path().string(), "no schema version " + std::to_string(version));
    const int found = schemaVersionOf(db);
    {
        Database::Action action(db, "cannot read the schema");
        checkCompatible(db, found);
    }
    if (db.readOnly()) {
        if (found == 0)
            fail(db.path().string(), "not a RankScope database yet (it is empty)");
        if (found < version)
            fail(db.path().string(), "the database has schema version " + std::to_string(found) +
                                         ", older than this RankScope's " +
                                         std::to_string(version) +
                                         "; open it read-write once to upgrade it");
        return;
    }
    Database::Action action(db, "cannot upgrade the database schema");
    // Persistent in the file: every later connection runs in WAL mode too.
    // Fixed when the file is created, before WAL mode. Layer results are blobs of tens of KiB:
    // 16 KiB pages write them in a quarter of the system calls of the default 4 KiB.
    if (found == 0)
        db.exec("PRAGMA page_size = 16384");
    db.exec("PRAGMA journal_mode = WAL");
    if (found >= version)
        return;
    Database::Transaction transaction(db);
    // Another process may have migrated between the check above and the write lock.
    const int start = schemaVersionOf(db);
    checkCompatible(db, start);
    if (start == 0)
        db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    for (int v = start; v < version; ++v) {
        db.exec(migrations()[static_cast<size_t>(v)]);
        db.exec("PRAGMA user_version = " + std::to_string(v + 1));
    }
    transaction.commit();
}

} // namespace rs::store
