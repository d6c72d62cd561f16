// Helper of tst_store_concurrency's crash test: records one complete experiment, then begins a
// second and adds layers to it until it is killed, printing a line after each commit.
//
//   store_writer DB  ->  "done ID", "begun ID", then "layers N" (N committed so far) ...
#include "store/experiment_store.h"
#include "util/error.h"

#include <cstdio>
#include <unistd.h>

namespace {

constexpr int kBatch = 2;        // layers per addLayers() call
constexpr int kCurve = 257;      // curve length
constexpr int kMaxLayers = 4000; // a bound, in case nobody kills it

// Layer k: its values are simple functions of k, which the test checks.
rs::LayerRecord layer(int k) {
    rs::LayerRecord l;
    l.name = "model.layers." + std::to_string(k) + ".mlp.down_proj";
    l.block = k;
    l.kind = "down_proj";
    l.outFeatures = 64;
    l.inFeatures = kCurve - 1;
    l.errorEnergy = k + 0.5;
    l.ranks = {4, 8};
    l.errorAfter = {0.25, 0.125};
    for (int i = 0; i < kCurve; ++i) {
        l.curveSvd.push_back(k + 1.0 / (i + 1));
        l.curveEora.push_back(k + 0.5 / (i + 1));
    }
    l.weightSingular.assign(kCurve - 1, 1.0);
    return l;
}

int64_t begin(rs::ExperimentStore& store, int64_t model, const std::string& name) {
    rs::ExperimentRecord e;
    e.name = name;
    e.modelId = model;
    e.calibMode = "parallel";
    e.calibTokens = 4096;
    e.calibSeqLen = 256;
    e.compression = "rtn:bits=3,group=32";
    e.compensations = {"svd", "eora"};
    e.rankPlan = R"({"ranks":[4,8]})";
    e.request = "{}";
    const int64_t id = store.beginExperiment(e);
    store.addVariants(id, {{0, "svd", 4, "svd@4", 100}, {1, "eora", 8, "eora@8", 200}});
    return id;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: store_writer DB\n");
        return 2;
    }
    try {
        auto store = rs::ExperimentStore::open(argv[1]);
        const int64_t model = store->upsertModel(
            {0, "/models/writer", "abc123", "llama", 2, 64, 128, 4, 4, 512, 100000});
        const int64_t complete = begin(*store, model, "complete");
        for (int k = 0; k < 8; k += 4)
            store->addLayers(complete, {layer(k), layer(k + 1), layer(k + 2), layer(k + 3)});
        for (int v = 0; v < 2; ++v) {
            rs::EvaluationRecord e;
            e.variant = v;
            e.protocol = "tinystories";
            e.seqLen = 512;
            e.tokens = 1000;
            e.perplexity = 5.0 + v;
            e.seconds = 1.0;
            store->addEvaluation(complete, e);
        }
        store->finishExperiment(complete, rs::ExperimentStatus::Done, {{"compress", 1.5}});
        std::printf("done %lld\n", static_cast<long long>(complete));

        const int64_t killed = begin(*store, model, "killed");
        std::printf("begun %lld\n", static_cast<long long>(killed));
        std::fflush(stdout);
        for (int k = 0; k < kMaxLayers; k += kBatch) {
            store->addLayers(killed, {layer(k), layer(k + 1)});
            std::printf("layers %d\n", k + kBatch);
            std::fflush(stdout);
            ::usleep(2000); // keeps the database small while the test reads the output
        }
    } catch (const rs::Error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
