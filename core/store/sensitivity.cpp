#include "store/sensitivity.h"

#include "store/database.h"
#include "store/experiment_store.h"

namespace rs {

std::vector<SensitivityRecord> loadSensitivities(ExperimentStore& store, const std::string& key) {
    store::Database& db = store.database();
    store::Database::Action action(db, "cannot read layer sensitivities");
    store::Statement s = db.prepare(
        "SELECT layer, perplexity, baseline, tokens FROM layer_sensitivity WHERE key = ?");
    s.bind(1, key);
    std::vector<SensitivityRecord> out;
    while (s.step())
        out.push_back({s.text(0), s.real(1), s.real(2), s.integer(3)});
    return out;
}

void saveSensitivity(ExperimentStore& store, const std::string& key,
                     const SensitivityRecord& record) {
    store::Database& db = store.database();
    store::Database::Action action(db, "cannot save a layer sensitivity");
    store::Database::Transaction transaction(db);
    db.prepare("INSERT OR REPLACE INTO layer_sensitivity (key, layer, perplexity, baseline, "
               "tokens, created) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))")
        .bind(1, key)
        .bind(2, record.layer)
        .bind(3, record.perplexity)
        .bind(4, record.baseline)
        .bind(5, record.tokens)
        .run();
    transaction.commit();
}

} // namespace rs
