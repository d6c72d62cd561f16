#include "store/distillations.h"

#include "store/blob.h"
#include "store/database.h"
#include "store/experiment_store.h"

#include <nlohmann/json.hpp>

namespace rs {

void addDistillation(ExperimentStore& store, int64_t experiment, const DistillationRecord& r) {
    store::Database& db = store.database();
    store::Database::Action action(db, "cannot insert a distillation record");
    store::Database::Transaction transaction(db);
    const auto train = store::encodeSeries(r.trainLoss, store::BlobType::Float64);
    const auto eval = store::encodeSeries(r.evalLoss, store::BlobType::Float64);
    db.prepare("INSERT OR REPLACE INTO distillations (experiment_id, variant, block, train_loss, "
               "eval_steps, eval_loss, best_step, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, experiment)
        .bind(2, int64_t(r.variant))
        .bind(3, r.block)
        .bindBlob(4, train)
        .bind(5, nlohmann::json(r.evalSteps).dump())
        .bindBlob(6, eval)
        .bind(7, r.bestStep)
        .bind(8, r.seconds)
        .run();
    transaction.commit();
}

std::vector<DistillationRecord> distillations(ExperimentStore& store, int64_t experiment) {
    store::Database& db = store.database();
    store::Database::Action action(db, "cannot read distillation records");
    store::Statement s =
        db.prepare("SELECT variant, block, train_loss, eval_steps, eval_loss, best_step, seconds "
                   "FROM distillations WHERE experiment_id = ? ORDER BY variant, block");
    s.bind(1, experiment);
    std::vector<DistillationRecord> out;
    const std::string context =
        db.path().string() + ": distillation of experiment " + std::to_string(experiment);
    while (s.step()) {
        DistillationRecord r;
        r.variant = static_cast<int>(s.integer(0));
        r.block = s.integer(1);
        const auto train = s.blob(2);
        r.trainLoss = store::decodeSeries(train.data(), train.size(), context);
        r.evalSteps = nlohmann::json::parse(s.text(3)).get<std::vector<int64_t>>();
        const auto eval = s.blob(4);
        r.evalLoss = store::decodeSeries(eval.data(), eval.size(), context);
        r.bestStep = s.integer(5);
        r.seconds = s.real(6);
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace rs
