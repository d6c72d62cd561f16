// What experiments produce beyond their rows: exported models and cached artefacts.
#include "store/experiment_store_impl.h"

namespace rs {

using store::Database;
using store::kArtefactColumns;
using store::nowUtc;
using store::Statement;
using store::widen;

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
