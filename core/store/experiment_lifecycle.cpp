// Writing an experiment: from beginExperiment() through its results to finishExperiment(), and
// renaming or deleting it afterwards.
#include "store/experiment_store_impl.h"
#include "util/error.h"

#include <nlohmann/json.hpp>

namespace rs {

using store::acquireLock;
using store::BlobType;
using store::Database;
using store::lockFile;
using store::nowUtc;
using store::releaseLock;
using store::stagesJson;
using store::Statement;
using store::widen;

int64_t ExperimentStore::beginExperiment(ExperimentRecord& e) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot record the new experiment");
    Database::Transaction transaction(db);
    const std::string created = nowUtc();
    Statement s = db.prepare(
        "INSERT INTO experiments (name, notes, model_id, calib_dataset_id, eval_dataset_id, "
        "calib_mode, calib_tokens, calib_seq_len, compression, compensations, rank_plan, "
        "request, status, version, created, calibration_artefact_id, calibration_reused, kind, "
        "model_files) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.name).bind(2, e.notes).bind(3, e.modelId).bind(4, e.calibDatasetId);
    s.bind(5, e.evalDatasetId).bind(6, e.calibMode).bind(7, e.calibTokens);
    s.bind(8, e.calibSeqLen).bind(9, e.compression);
    s.bind(10, nlohmann::json(e.compensations).dump()).bind(11, e.rankPlan).bind(12, e.request);
    s.bind(13, rankscopeVersion()).bind(14, created).bind(15, e.calibrationArtefact);
    s.bind(16, int64_t(e.calibrationReused)).bind(17, experimentKindName(e.kind));
    s.bind(18, e.modelFiles).run();
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

namespace {

// The analysis columns of a layer row, in the order curve_svd, curve_eora, gram_eigenvalues,
// weight_singular, error_singular, scaled_error_singular, from parameter `first` on.
void bindAnalysis(Statement& s, int first, const LayerRecord& l) {
    bindSeries(s, first, l.curveSvd, BlobType::Float64);
    bindSeries(s, first + 1, l.curveEora, BlobType::Float64);
    bindSeries(s, first + 2, l.gramEigenvalues, BlobType::Float32);
    bindSeries(s, first + 3, l.weightSingular, BlobType::Float32);
    bindSeries(s, first + 4, l.errorSingular, BlobType::Float32);
    bindSeries(s, first + 5, l.scaledErrorSingular, BlobType::Float32);
}

} // namespace

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
        bindAnalysis(s, 17, l);
        s.run();
        s.reset();
    }
    transaction.commit();
}

void ExperimentStore::setLayerAnalysis(int64_t experiment, const LayerRecord& layer) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot store the analysis of " + layer.name);
    Database::Transaction transaction(db);
    m_impl->requireExperiment(experiment);
    Statement s =
        db.prepare("UPDATE layers SET curve_svd = ?, curve_eora = ?, gram_eigenvalues = ?, "
                   "weight_singular = ?, error_singular = ?, scaled_error_singular = ? "
                   "WHERE experiment_id = ? AND name = ?");
    bindAnalysis(s, 1, layer);
    s.bind(7, experiment).bind(8, layer.name).run();
    if (db.changes() != 1)
        fail("experiment " + std::to_string(experiment), "has no layer " + layer.name);
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

} // namespace rs
