// Reading experiments back: the listing, one experiment, and its variants, layers and evaluations.
#include "store/experiment_store_impl.h"

namespace rs {

using store::Database;
using store::kExperimentColumnCount;
using store::kExperimentColumns;
using store::parseIntegers;
using store::Statement;

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
                             "  AND (?4 IS NULL OR e.kind = ?4) "
                             "ORDER BY e.created DESC, e.id DESC LIMIT ?3");
    s.bind(1, f.model);
    if (f.status)
        s.bind(2, statusName(*f.status));
    s.bind(3, f.limit > 0 ? f.limit : int64_t(-1));
    if (f.kind)
        s.bind(4, experimentKindName(*f.kind));
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

} // namespace rs
