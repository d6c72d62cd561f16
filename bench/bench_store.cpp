// Experiment store timings: recording one large experiment, and listing many experiments.
//
//   bench_store [DIR]   (a temporary directory by default)
#include "bench_common.h"
#include "store/database.h"
#include "store/experiment_store.h"

#include <cstdio>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

constexpr int kLayers = 224; // 32 blocks x 7 linears (a 7B LLaMA)
constexpr int kCurve = 4097; // min(d_out, d_in) + 1 for d = 4096
constexpr int kExperiments = 10000;
constexpr double kStoreTargetMs = 200.0;
constexpr double kListTargetMs = 50.0;

const char* verdict(double ms, double target) {
    return ms < target ? "PASS" : "FAIL";
}

rs::ExperimentRecord experiment(int64_t model, int64_t calib) {
    rs::ExperimentRecord e;
    e.modelId = model;
    e.calibDatasetId = calib;
    e.calibMode = "parallel";
    e.calibTokens = 131072;
    e.calibSeqLen = 2048;
    e.compression = "gptq:bits=3,group=128,act_order=true";
    e.compensations = {"none", "svd", "eora"};
    e.rankPlan = R"({"ranks":[16,32,64]})";
    e.request = R"({"model":"/models/llama-2-7b","calib":"/text/c4.txt","method":)"
                R"("gptq:bits=3,group=128,act_order=true","comp":["none","svd","eora"],)"
                R"("ranks":[16,32,64],"calib_tokens":131072,"seq_len":2048})";
    return e;
}

std::vector<rs::LayerRecord> layers(std::mt19937& random) {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<rs::LayerRecord> out(kLayers);
    for (int k = 0; k < kLayers; ++k) {
        rs::LayerRecord& l = out[k];
        l.name = "model.layers." + std::to_string(k / 7) + ".proj" + std::to_string(k % 7);
        l.block = k / 7;
        l.kind = "proj";
        l.outFeatures = l.inFeatures = kCurve - 1;
        l.ranks = {16, 32, 64};
        l.errorAfter = l.heldoutErrorAfter = {0.1, 0.05, 0.02};
        for (auto* series : {&l.curveSvd, &l.curveEora})
            for (int i = 0; i < kCurve; ++i)
                series->push_back(uniform(random));
        for (auto* series :
             {&l.gramEigenvalues, &l.weightSingular, &l.errorSingular, &l.scaledErrorSingular})
            for (int i = 0; i + 1 < kCurve; ++i)
                series->push_back(uniform(random));
    }
    return out;
}

rs::EvaluationRecord evaluation(std::optional<int> variant, double perplexity) {
    return {0, variant, std::nullopt, "wikitext", 2048, 300000, perplexity, 60.0};
}

// One experiment as the recorder writes it: a transaction per decoder block of 7 layers.
void storeOneExperiment(const fs::path& file) {
    std::mt19937 random(7);
    const auto all = layers(random); // built before timing: only the store is measured
    auto opened = std::chrono::steady_clock::now();
    auto store = rs::ExperimentStore::open(file);
    std::printf("create the database: %.1f ms\n", rs::bench::secondsSince(opened) * 1000.0);
    const auto start = std::chrono::steady_clock::now();
    const int64_t model = store->upsertModel(
        {0, "/models/llama-2-7b", "9a8b7c", "llama", 32, 4096, 11008, 32, 32, 32000, 6738415616});
    const int64_t calib = store->upsertDataset({0, "/text/c4.txt", "1f2e", "wikitext", 131072});
    auto record = experiment(model, calib);
    const int64_t id = store->beginExperiment(record);
    store->addVariants(id, {{0, "none", 0, "none", 0},
                            {1, "svd", 32, "svd@32", 1000000},
                            {2, "eora", 32, "eora@32", 1000000}});
    for (int k = 0; k < kLayers; k += 7)
        store->addLayers(id, std::vector<rs::LayerRecord>(all.begin() + k, all.begin() + k + 7));
    store->addEvaluation(id, evaluation(std::nullopt, 5.47));
    for (int v = 0; v < 3; ++v)
        store->addEvaluation(id, evaluation(v, 6.0 - 0.2 * v));
    store->finishExperiment(id, rs::ExperimentStatus::Done, {{"calibrate", 60}, {"compress", 90}});
    const double ms = rs::bench::secondsSince(start) * 1000.0;
    const auto closing = std::chrono::steady_clock::now();
    store.reset(); // the last connection checkpoints the WAL into the database file
    const double closeMs = rs::bench::secondsSince(closing) * 1000.0;
    std::printf("store one experiment: %d layers, curves %d x 2, spectra %d x 4: %.1f ms "
                "(target < %.0f ms: %s)\n",
                kLayers, kCurve, kCurve - 1, ms, kStoreTargetMs, verdict(ms, kStoreTargetMs));
    std::printf("close (checkpoint): %.1f ms, database %.1f MiB\n", closeMs,
                double(fs::file_size(file)) / (1 << 20));
}

// Many experiments written in one transaction directly (filling the table fast), then listed.
void listManyExperiments(const fs::path& file) {
    {
        auto store = rs::ExperimentStore::open(file);
        const int64_t model = store->upsertModel(
            {0, "/models/llama-2-7b", "9a8b7c", "llama", 32, 4096, 11008, 32, 32, 32000, 1});
        const int64_t calib = store->upsertDataset({0, "/text/c4.txt", "1f2e", "wikitext", 1});
        rs::store::Database& db = store->database();
        const auto start = std::chrono::steady_clock::now();
        rs::store::Database::Transaction transaction(db);
        auto insert = db.prepare(
            "INSERT INTO experiments (model_id, calib_dataset_id, calib_mode, calib_tokens, "
            "calib_seq_len, compression, compensations, rank_plan, request, status, "
            "stage_seconds, version, created, finished) VALUES (?, ?, 'parallel', 131072, 2048, "
            "?, '[\"none\",\"svd\",\"eora\"]', ?, ?, 'done', '[[\"calibrate\",60],"
            "[\"compress\",90]]', '0.1.0', ?, ?)");
        auto layer = db.prepare("INSERT INTO layers (experiment_id, position, name, block, kind, "
                                "out_features, in_features, discarded_modes) VALUES "
                                "(?, ?, 'model.layers.0.q_proj', 0, 'q_proj', 4096, 4096, 0)");
        auto perplexity = db.prepare("INSERT INTO evaluations (experiment_id, variant, protocol, "
                                     "seq_len, tokens, perplexity, seconds) VALUES "
                                     "(?, NULL, 'wikitext', 2048, 300000, 5.5, 60)");
        const auto e = experiment(model, calib);
        for (int i = 0; i < kExperiments; ++i) {
            char created[32];
            std::snprintf(created, sizeof created, "2025-%02d-%02dT%02d:%02d:00Z", 1 + i / 2000,
                          1 + (i / 60) % 28, (i / 3) % 24, i % 60);
            insert.bind(1, model).bind(2, calib).bind(3, e.compression).bind(4, e.rankPlan);
            insert.bind(5, e.request).bind(6, created).bind(7, created).run();
            insert.reset();
            const int64_t id = db.lastInsertId();
            for (int p = 0; p < 2; ++p) {
                layer.bind(1, id).bind(2, int64_t(p)).run();
                layer.reset();
            }
            perplexity.bind(1, id).run();
            perplexity.reset();
        }
        transaction.commit();
        std::printf("insert %d experiments (one transaction): %.1f ms\n", kExperiments,
                    rs::bench::secondsSince(start) * 1000.0);
    }
    auto store = rs::ExperimentStore::open(file, {true});
    rs::ExperimentFilter tenNewest;
    tenNewest.limit = 10;
    store->listExperiments(tenNewest); // warm the page cache, as a GUI's second listing
    double best = 1e9;
    size_t rows = 0;
    for (int round = 0; round < 5; ++round) {
        const auto start = std::chrono::steady_clock::now();
        rows = store->listExperiments().size();
        best = std::min(best, rs::bench::secondsSince(start) * 1000.0);
    }
    std::printf("list %zu experiments: %.1f ms (best of 5; target < %.0f ms: %s)\n", rows, best,
                kListTargetMs, verdict(best, kListTargetMs));
    rs::ExperimentFilter filter;
    filter.model = "llama";
    filter.limit = 50;
    const auto start = std::chrono::steady_clock::now();
    rows = store->listExperiments(filter).size();
    std::printf("list the newest %zu of a model: %.2f ms\n", rows,
                rs::bench::secondsSince(start) * 1000.0);
}

} // namespace

int main(int argc, char** argv) {
    fs::path dir;
    bool temporary = false;
    if (argc > 1) {
        dir = argv[1];
    } else {
        dir = fs::temp_directory_path() / ("bench_store." + std::to_string(::getpid()));
        temporary = true;
    }
    fs::create_directories(dir);
    try {
        storeOneExperiment(dir / "one.db");
        listManyExperiments(dir / "many.db");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    if (temporary)
        fs::remove_all(dir);
    return 0;
}
