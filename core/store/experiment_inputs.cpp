// What experiments run on: the models and datasets, and the remembered hashes of their files.
#include "store/experiment_store_impl.h"

namespace rs {

using store::Database;
using store::Statement;

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
                                                      const FileStamp& stamp) const {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot read the remembered hash of " + file.string());
    Statement s = db.prepare("SELECT hash FROM file_hashes WHERE path = ? AND size = ? AND "
                             "mtime_ns = ? AND ctime_ns = ?");
    if (!s.bind(1, file.string())
             .bind(2, stamp.size)
             .bind(3, stamp.mtimeNs)
             .bind(4, stamp.ctimeNs)
             .step())
        return std::nullopt;
    return s.text(0);
}

void ExperimentStore::rememberHash(const std::filesystem::path& file, const FileStamp& stamp,
                                   const std::string& hash) {
    Database& db = m_impl->db;
    Database::Action action(db, "cannot remember the hash of " + file.string());
    Database::Transaction transaction(db);
    db.prepare("INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, ctime_ns, hash) "
               "VALUES (?, ?, ?, ?, ?)")
        .bind(1, file.string())
        .bind(2, stamp.size)
        .bind(3, stamp.mtimeNs)
        .bind(4, stamp.ctimeNs)
        .bind(5, hash)
        .run();
    transaction.commit();
}

} // namespace rs
