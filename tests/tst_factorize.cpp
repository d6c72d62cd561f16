// LoRD and Lillama (factorize/, pipeline/lowrank_job) on stories260K: factor-only layers, the
// data-aware optimum against weight SVD, local distillation, rank allocation under a budget, and
// the job end to end.
#include "calib/layerwise.h"
#include "compensate/compensation.h"
#include "export/export_job.h"
#include "factorize/allocation.h"
#include "factorize/lillama.h"
#include "factorize/lord.h"
#include "model/llama.h"
#include "model/synthetic.h"
#include "pipeline/lowrank_job.h"
#include "pipeline/lowrank_recorder.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "store/distillations.h"
#include "store/experiment_store.h"
#include "test_session.h"
#include "testdata.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <QTest>
#include <c10/core/InferenceMode.h>
#include <cmath>
#include <filesystem>
#include <limits>

namespace {

// Factor-only forward (two float32 matmuls) vs the float64 dense product B A.
constexpr double kForwardTolerance = 1e-5;
// E_data(r) <= E_svd(r) holds exactly; float32 factors and float64 sums leave this much of
// tr(W C W^T).
constexpr double kOptimumSlack = 1e-5;
// The same run twice gives the same losses bit for bit on the same thread count.
constexpr double kReproducible = 0.0;

double relativeDifference(const at::Tensor& a, const at::Tensor& b) {
    const at::Tensor x = a.to(at::kDouble), y = b.to(at::kDouble);
    return ((x - y).norm() / y.norm()).item<double>();
}

std::vector<rs::FactorShape> modelShapes(const rs::LlamaModel& model) {
    std::vector<rs::FactorShape> shapes;
    for (int64_t b = 0; b < model.numLayers(); ++b)
        for (rs::LinearKind kind : rs::kAllLinearKinds) {
            const rs::Linear& l = model.layer(b).linear(kind);
            shapes.push_back({rs::linearName(b, kind), b, l.outFeatures(), l.inFeatures()});
        }
    return shapes;
}

rs::MethodConfig lordWeight() {
    return rs::MethodConfig::defaults("lord-weight", rs::MethodKind::LowRank);
}
rs::MethodConfig lordData() {
    return rs::MethodConfig::defaults("lord-data", rs::MethodKind::LowRank);
}

rs::LowRankRequest smallRequest(const std::string& method) {
    rs::LowRankRequest r;
    r.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
    r.inputs.calibTokens = 2048;
    r.inputs.calibSeqLen = 128;
    r.method = rs::MethodConfig::parse(method, rs::MethodKind::LowRank);
    r.reductions = {20.0, 40.0};
    return r;
}

} // namespace

class TestFactorize : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void factorOnlyLinearIsTheProductOfItsFactors();
    void factoredDecoderLayerMatchesMergedWeights();
    void dataAwareNeverWorseThanWeightSvd();
    void budgetsAreMetExactly();
    void greedyStrategiesFactorWholeBlocksFromTheirEnd();
    void impossibleRequestsFailClearly();
    void lillamaLossDoesNotIncreaseFromSvdInit();
    void lordJobReportsParametersAndRestoresTheModel();
    void lillamaJobRunsAndIsReproducible();
    void lillamaTrainsABfloat16Checkpoint();
    void optimalPlanMeetsTheBudgetWithLessError();
    void runIsRecordedInTheStore();
    void bothJobsSelectTheSameLayers();

private:
    std::shared_ptr<rs::ModelSession> m_session;
    at::Tensor m_windows;
};

void TestFactorize::initTestCase() {
    m_session = rs::test::openDemo();
    at::manual_seed(11);
    m_windows = at::randint(3, 512, {4, 128}, at::kLong);
}

void TestFactorize::factorOnlyLinearIsTheProductOfItsFactors() {
    at::manual_seed(1);
    rs::Linear linear;
    linear.loraA = at::randn({6, 40});
    linear.loraB = at::randn({24, 6});
    linear.bias = at::randn({24});
    QVERIFY(linear.factorOnly());
    QCOMPARE(linear.outFeatures(), int64_t(24));
    QCOMPARE(linear.inFeatures(), int64_t(40));
    QCOMPARE(linear.parameters(), int64_t(6 * (24 + 40)));
    const at::Tensor x = at::randn({3, 7, 40});
    const at::Tensor dense = at::mm(linear.loraB.to(at::kDouble), linear.loraA.to(at::kDouble));
    const at::Tensor expected = at::matmul(x.to(at::kDouble), dense.t()) + linear.bias;
    QVERIFY(relativeDifference(linear.forward(x), expected) < kForwardTolerance);
}

void TestFactorize::factoredDecoderLayerMatchesMergedWeights() {
    c10::InferenceMode inference;
    rs::LlamaModel& model = m_session->model();
    const at::Tensor hidden = model.embed(m_windows);
    rs::Linear& up = model.layer(2).linear(rs::LinearKind::Up);
    const rs::Linear original = up;
    at::manual_seed(2);
    const at::Tensor a = at::randn({9, up.inFeatures()}) * 0.1;
    const at::Tensor b = at::randn({up.outFeatures(), 9}) * 0.1;
    up.weight = at::mm(b.to(at::kDouble), a.to(at::kDouble)).to(at::kFloat);
    const at::Tensor merged = model.decoderLayer(2, hidden);
    up.weight = at::Tensor();
    up.loraA = a;
    up.loraB = b;
    const at::Tensor factored = model.decoderLayer(2, hidden);
    up = original;
    QVERIFY(relativeDifference(factored, merged) < kForwardTolerance);
}

void TestFactorize::dataAwareNeverWorseThanWeightSvd() {
    c10::InferenceMode inference;
    rs::LlamaModel& model = m_session->model();
    rs::LayerwiseCalibrator calibrator(model, at::randint(3, 512, {6, 256}, at::kLong));
    for (int64_t block = 0; block < 2; ++block) {
        const rs::LayerInputStats stats = calibrator.collect(block);
        calibrator.advance(block);
        for (rs::LinearKind kind : rs::kAllLinearKinds) {
            const std::string name = rs::linearName(block, kind);
            const at::Tensor w = model.layer(block).linear(kind).weight;
            const rs::InputStats& st = stats.forLinear(kind);
            const int64_t full = std::min(w.size(0), w.size(1));
            const auto svd = rs::buildLordBasis(lordWeight(), w, st, full, name);
            const auto data = rs::buildLordBasis(lordData(), w, st, full, name);
            const std::vector<double> svdCurve = svd->errorCurve();
            const std::vector<double> dataCurve = data->errorCurve();
            const double energy = rs::compensatedError(w, {}, st.gram);
            for (int64_t r : {int64_t(1), int64_t(4), int64_t(8), full / 2, full - 1}) {
                const double eSvd = rs::relativeFactorError(w, svd->factorsAt(r), st.gram);
                const double eData = rs::relativeFactorError(w, data->factorsAt(r), st.gram);
                QVERIFY2(eData <= eSvd + kOptimumSlack,
                         qPrintable(QString("%1 r=%2: data %3 > svd %4")
                                        .arg(name.c_str())
                                        .arg(r)
                                        .arg(eData)
                                        .arg(eSvd)));
                // The curves are the measured errors of the factors.
                QVERIFY(std::abs(dataCurve[size_t(r)] / energy - eData) < kOptimumSlack);
                QVERIFY(std::abs(svdCurve[size_t(r)] / energy - eSvd) < kOptimumSlack);
            }
        }
    }
}

void TestFactorize::budgetsAreMetExactly() {
    const std::vector<rs::FactorShape> shapes = modelShapes(m_session->model());
    for (rs::AllocationStrategy strategy :
         {rs::AllocationStrategy::Uniform, rs::AllocationStrategy::GreedyBottom,
          rs::AllocationStrategy::GreedyTop})
        for (double percent : {5.0, 20.0, 33.3, 40.0}) {
            const rs::RankAllocation a = rs::allocateForReduction(shapes, percent, strategy, 0.3);
            const int64_t dense = 5 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 172 * 64);
            QCOMPARE(a.parametersBefore, dense);
            QCOMPARE(a.budget, int64_t(std::floor((1.0 - percent / 100.0) * double(dense))));
            QVERIFY(a.parametersAfter <= a.budget);
            QVERIFY(a.reductionPercent() >= percent);
            QCOMPARE(rs::evaluateAllocation(shapes, a.ranks).parametersAfter, a.parametersAfter);
            // Nothing is left that one more rank of a factored layer could use.
            for (size_t i = 0; i < shapes.size(); ++i) {
                const int64_t r = a.ranks[i];
                if (r != rs::kDenseRank && r < shapes[i].breakEvenRank())
                    QVERIFY2(a.parametersAfter + shapes[i].rankCost() > a.budget,
                             shapes[i].name.c_str());
            }
        }
    const rs::RankAllocation uniform = rs::allocateUniformRank(shapes, 8);
    QCOMPARE(uniform.parametersAfter, int64_t(8 * 5 * (2 * 128 + 2 * 96 + 3 * 236)));
}

void TestFactorize::greedyStrategiesFactorWholeBlocksFromTheirEnd() {
    const std::vector<rs::FactorShape> shapes = modelShapes(m_session->model());
    const auto factoredBlocks = [&](const rs::RankAllocation& a) {
        std::vector<int64_t> blocks;
        for (size_t i = 0; i < shapes.size(); ++i)
            if (a.ranks[i] != rs::kDenseRank &&
                (blocks.empty() || blocks.back() != shapes[i].block))
                blocks.push_back(shapes[i].block);
        return blocks;
    };
    // 0.5 of each factored layer kept: 20% takes two of the five blocks.
    const auto bottom =
        rs::allocateForReduction(shapes, 20.0, rs::AllocationStrategy::GreedyBottom, 0.5);
    QCOMPARE(factoredBlocks(bottom), (std::vector<int64_t>{0, 1}));
    const auto top = rs::allocateForReduction(shapes, 20.0, rs::AllocationStrategy::GreedyTop, 0.5);
    QCOMPARE(factoredBlocks(top), (std::vector<int64_t>{3, 4}));
}

void TestFactorize::impossibleRequestsFailClearly() {
    const std::vector<rs::FactorShape> shapes = modelShapes(m_session->model());
    using rs::test::errorOf;
    QVERIFY(errorOf([&] {
                rs::allocateUniformRank(shapes, 33);
            }).find("model.layers.0.self_attn.k_proj: rank 33 is outside 1..32") !=
            std::string::npos);
    QVERIFY(errorOf([&] { rs::allocateForReduction(shapes, 0.0); }).find("between 0 and 100") !=
            std::string::npos);
    QVERIFY(errorOf([&] {
                rs::allocateForReduction(shapes, 99.9);
            }).find("cannot reach 99.9% fewer parameters") != std::string::npos);
    QVERIFY(errorOf([&] {
                rs::allocateForReduction(shapes, 80.0, rs::AllocationStrategy::GreedyTop, 0.5);
            }).find("lower the layer fraction") != std::string::npos);
    at::Tensor w = at::randn({8, 8});
    w[2][3] = std::numeric_limits<float>::quiet_NaN();
    rs::InputStats stats;
    stats.accumulate(at::randn({32, 8}));
    QVERIFY(errorOf([&] {
                rs::buildLordBasis(lordData(), w, stats, 4, "layer.x");
            }).rfind("layer.x: ", 0) == 0);
    QVERIFY(errorOf([&] {
                rs::buildLordBasis(lordWeight(), at::randn({8, 8}), stats, 9, "layer.y");
            }).rfind("layer.y: rank 9", 0) == 0);
}

void TestFactorize::lillamaLossDoesNotIncreaseFromSvdInit() {
    c10::InferenceMode inference;
    rs::LlamaModel& model = m_session->model();
    const int64_t block = 1;
    const at::Tensor windows = at::randint(3, 512, {8, 128}, at::kLong);
    const at::Tensor input = model.decoderLayer(0, model.embed(windows));
    const at::Tensor teacherOut = model.decoderLayer(block, input);
    const std::array<rs::Linear, 7> original = model.layer(block).linears;
    for (rs::Linear& linear : model.layer(block).linears) {
        rs::InputStats unused; // weight SVD ignores the inputs
        unused.accumulate(at::randn({4, linear.inFeatures()}));
        const rs::LowRankFactors f =
            rs::buildLordBasis(lordWeight(), linear.weight, unused, 8, "w")->factorsAt(8);
        linear = {at::Tensor(), linear.bias, f.A, f.B};
    }
    rs::LillamaOptions options;
    options.steps = 30;
    options.batch = 2;
    // The student input differs from the teacher's, as it would below compressed layers.
    const at::Tensor studentIn = input + 0.01 * at::randn(input.sizes());
    const rs::LayerDistillation d =
        rs::distillLayer(model, block, input, studentIn, teacherOut, options);
    model.layer(block).linears = original;
    QCOMPARE(d.evalLoss.front().first, int64_t(0));
    QCOMPARE(d.evalLoss.front().second, d.initialLoss);
    QVERIFY(d.bestLoss <= d.initialLoss);
    QVERIFY2(d.bestLoss < d.initialLoss, "30 steps of AdamW should improve on the SVD init");
    QCOMPARE(d.trainLoss.size(), size_t(30));
}

void TestFactorize::lordJobReportsParametersAndRestoresTheModel() {
    rs::LlamaModel& model = m_session->model();
    const at::Tensor before = model.forward(m_windows);
    rs::LowRankRequest request = smallRequest("lord-data");
    request.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    request.inputs.eval.maxWindows = 2;
    request.inputs.evaluateBaseline = true;
    const rs::LowRankResult r = rs::runLowRank(*m_session, request);
    QCOMPARE(r.variants.size(), size_t(2));
    QCOMPARE(r.layers.size(), size_t(35));
    for (size_t v = 0; v < 2; ++v) {
        const rs::LowRankVariant& variant = r.variants[v];
        QVERIFY(variant.reductionPercent() >= variant.targetReduction);
        int64_t sum = 0;
        for (const rs::LowRankLayerReport& l : r.layers) {
            sum += l.parametersAt(v);
            QVERIFY(l.errorAfter[v] > 0.0 && l.errorAfter[v] < 1.0);
            QVERIFY(l.analysis && l.analysis->curves.eora.size() ==
                                      size_t(std::min(l.outFeatures, l.inFeatures) + 1));
        }
        QCOMPARE(sum, variant.parametersAfter);
        QVERIFY(variant.perplexity && variant.perplexity->perplexity > r.baseline->perplexity);
    }
    // More reduction, more error and perplexity.
    QVERIFY(r.variants[1].perplexity->perplexity > r.variants[0].perplexity->perplexity);
    QVERIFY(r.layers[0].errorAfter[1] > r.layers[0].errorAfter[0]);
    QCOMPARE(relativeDifference(model.forward(m_windows), before), 0.0);
    for (const rs::Linear& l : model.layer(0).linears)
        QVERIFY(!l.factorOnly() && !l.loraA.defined());
}

void TestFactorize::lillamaJobRunsAndIsReproducible() {
    rs::LowRankRequest request = smallRequest("lillama:steps=6,batch=2,allocation=top");
    request.reductions = {20.0};
    request.inputs.analyze = false;
    std::vector<rs::ProgressEvent> events;
    rs::JobContext job;
    job.progress = [&](const rs::ProgressEvent& e) { events.push_back(e); };
    const rs::LowRankResult a = rs::runLowRank(*m_session, request, job);
    const rs::LowRankResult b = rs::runLowRank(*m_session, request);
    QCOMPARE(a.variants.size(), size_t(1));
    // Top-down greedy at 0.5 of each factored layer: blocks 3 and 4 are distilled.
    QCOMPARE(a.variants[0].distillation.size(), size_t(2));
    QCOMPARE(a.variants[0].distillation[0].block, int64_t(3));
    for (size_t k = 0; k < 2; ++k) {
        const rs::LayerDistillation& da = a.variants[0].distillation[k];
        const rs::LayerDistillation& db = b.variants[0].distillation[k];
        QVERIFY(da.bestLoss <= da.initialLoss);
        QCOMPARE(da.trainLoss.size(), size_t(6));
        for (size_t s = 0; s < da.trainLoss.size(); ++s)
            QVERIFY(std::abs(da.trainLoss[s] - db.trainLoss[s]) <= kReproducible);
    }
    bool sawLoss = false;
    for (const rs::ProgressEvent& e : events)
        sawLoss |= e.stage == "distill" && e.detail.find("loss") != std::string::npos;
    QVERIFY(sawLoss);

    // Cancellation stops the job at the next step.
    rs::JobContext cancelling;
    cancelling.progress = [&](const rs::ProgressEvent& e) {
        if (e.stage == "distill")
            cancelling.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(rs::CancelledError, rs::runLowRank(*m_session, request, cancelling));
    for (const rs::Linear& l : m_session->model().layer(4).linears)
        QVERIFY(!l.factorOnly());
}

void TestFactorize::lillamaTrainsABfloat16Checkpoint() {
    // A block converted from bfloat16 is materialised in inference mode; the distillation must
    // still be able to run the backward pass through its frozen weights.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    rs::ScaleModelOptions options;
    options.dtype = "bfloat16";
    options.tokenizerDir = rs::test::dataPath("models/stories260K");
    const std::filesystem::path model = dir.path().toStdString();
    rs::writeScaleModel(model, m_session->model().config(), options);
    const auto session = rs::ModelSession::open(model);
    rs::LowRankRequest request = smallRequest("lillama:steps=3,batch=2,allocation=top");
    request.reductions = {20.0};
    request.inputs.analyze = false;
    const rs::LowRankResult result = rs::runLowRank(*session, request);
    QVERIFY(!result.variants[0].distillation.empty());
    for (const rs::LayerDistillation& d : result.variants[0].distillation) {
        QCOMPARE(d.trainLoss.size(), size_t(3));
        QVERIFY(std::isfinite(d.bestLoss) && d.bestLoss <= d.initialLoss);
    }
}

void TestFactorize::optimalPlanMeetsTheBudgetWithLessError() {
    rs::LowRankRequest request = smallRequest("lord-data");
    request.reductions = {30.0};
    const rs::LowRankResult uniform = rs::runLowRank(*m_session, request);
    request.method.set("allocation", "optimal");
    // The factors reach the hook block by block, each layer's once.
    std::vector<int64_t> handedBlocks;
    std::map<std::string, std::pair<int64_t, int64_t>> handedShapes; // layer -> (d_out, d_in)
    rs::LowRankHooks hooks;
    hooks.factored = [&](size_t variant, const std::vector<rs::FactoredLinear>& linears) {
        QCOMPARE(variant, size_t(0));
        const int64_t block =
            std::stoll(linears.front().name.substr(std::string("model.layers.").size()));
        handedBlocks.push_back(block);
        for (const rs::FactoredLinear& f : linears) {
            QVERIFY(f.name.rfind("model.layers." + std::to_string(block) + ".", 0) == 0);
            QVERIFY(handedShapes
                        .emplace(f.name, std::make_pair(f.factors->B.size(0), f.factors->A.size(1)))
                        .second);
        }
    };
    const rs::LowRankResult optimal = rs::runLowRank(*m_session, request, {}, hooks);
    QVERIFY(std::is_sorted(handedBlocks.begin(), handedBlocks.end()));
    QVERIFY(std::adjacent_find(handedBlocks.begin(), handedBlocks.end()) == handedBlocks.end());
    QCOMPARE(handedShapes.size(), optimal.layers.size());
    for (const rs::LowRankLayerReport& l : optimal.layers) {
        QCOMPARE(handedShapes.at(l.name), std::make_pair(l.outFeatures, l.inFeatures));
        // The second pass's factors at the allocated rank reach the first pass's optimum curve.
        const double predicted = l.analysis->curves.eora.at(size_t(l.ranks[0])) / l.outputEnergy;
        QVERIFY2(std::abs(l.errorAfter[0] - predicted) <= kOptimumSlack,
                 qPrintable(QString("%1: %2 against the curve's %3")
                                .arg(l.name.c_str())
                                .arg(l.errorAfter[0])
                                .arg(predicted)));
    }
    const rs::LowRankVariant& v = optimal.variants.front();
    QVERIFY(v.reductionPercent() >= 30.0);
    QCOMPARE(v.parametersBefore, uniform.variants.front().parametersBefore);
    // The planner minimises the sum of relative errors under the same budget.
    double sumUniform = 0.0, sumOptimal = 0.0;
    bool differs = false;
    for (size_t i = 0; i < optimal.layers.size(); ++i) {
        sumUniform += uniform.layers[i].errorAfter[0];
        sumOptimal += optimal.layers[i].errorAfter[0];
        differs |= optimal.layers[i].ranks[0] != uniform.layers[i].ranks[0];
        QVERIFY(optimal.layers[i].ranks[0] >= 1);
    }
    QVERIFY(differs);
    QVERIFY2(sumOptimal < sumUniform,
             qPrintable(QString("optimal %1, uniform %2").arg(sumOptimal).arg(sumUniform)));
}

void TestFactorize::runIsRecordedInTheStore() {
    QTemporaryDir dir;
    const auto store = rs::ExperimentStore::open(dir.filePath("rs.db").toStdString());
    rs::LowRankRequest request = smallRequest("lord-weight:factor_bits=8");
    request.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
    request.inputs.eval.maxWindows = 1;
    const rs::RecordedLowRank run = rs::runRecordedLowRank(*m_session, request, *store, "seed");
    const auto experiment = store->experiment(run.experimentId);
    QVERIFY(experiment && experiment->status == rs::ExperimentStatus::Done);
    QCOMPARE(experiment->compression, request.method.serialize());
    const auto variants = store->variants(run.experimentId);
    QCOMPARE(variants.size(), size_t(2));
    QCOMPARE(variants[1].label, std::string("lord-weight@40%"));
    QCOMPARE(variants[1].adapterParameters, run.result.variants[1].parametersAfter);
    const auto layers = store->layers(run.experimentId);
    QCOMPARE(layers.size(), size_t(35));
    QCOMPARE(layers[4].ranks, run.result.layers[4].ranks);
    QCOMPARE(layers[4].errorAfter, run.result.layers[4].errorAfter);
    QCOMPARE(layers[4].curveEora.size(), size_t(65));
    QCOMPARE(store->evaluations(run.experimentId).size(), size_t(2));
    QCOMPARE(experiment->kind, rs::ExperimentKind::LowRank);
    rs::ExperimentFilter lowRankOnly;
    lowRankOnly.kind = rs::ExperimentKind::LowRank;
    QCOMPARE(store->listExperiments(lowRankOnly).size(), size_t(1));
    // The stored request reads back as the request that ran.
    const rs::LowRankRequest stored = rs::lowRankRequestFromJson(experiment->request);
    QCOMPARE(stored.method, request.method);
    QCOMPARE(stored.reductions, request.reductions);
    QCOMPARE(stored.uniformRank, request.uniformRank);
    QCOMPARE(stored.inputs.calibText, request.inputs.calibText);
    QCOMPARE(stored.inputs.calibTokens, request.inputs.calibTokens);
    QCOMPARE(stored.inputs.evalText, request.inputs.evalText);
    QCOMPARE(stored.inputs.eval.maxWindows, request.inputs.eval.maxWindows);
    QCOMPARE(rs::lowRankRequestJson(stored), experiment->request);
    // The stored request runs again as the same command.
    const std::string rerun = rs::lowRankCommandLine(stored, "M");
    QVERIFY2(rerun.rfind("rankscope-cli lowrank M --calib ", 0) == 0, rerun.c_str());
    // The compression export refuses it and names the command that exports it.
    rs::ExportRequest exportRequest;
    exportRequest.experimentId = run.experimentId;
    exportRequest.format = rs::ExportFormat::Factorized;
    exportRequest.outDir = dir.filePath("export").toStdString();
    const std::string error =
        rs::test::errorOf([&] { rs::exportExperiment(*store, exportRequest); });
    QVERIFY2(error.find("is a low-rank (LoRD/Lillama) run") != std::string::npos &&
                 error.find("--export DIR") != std::string::npos,
             error.c_str());
    QVERIFY(!std::filesystem::exists(exportRequest.outDir));
    QVERIFY(rerun.find(" --method " + request.method.serialize() + " ") != std::string::npos);
    QVERIFY(rerun.find(" --reduction 20,40") != std::string::npos);
    // Nor is it read back as a compression (a rank plan, sensitivities).
    const std::string notCompression =
        rs::test::errorOf([&] { rs::compressRequestOf(*experiment); });
    QVERIFY2(notCompression.find("is a low-rank (LoRD/Lillama) run, not a compression") !=
                 std::string::npos,
             notCompression.c_str());
    const std::string malformed = rs::test::errorOf(
        [] { rs::lowRankRequestFromJson("{\"kind\": \"lowrank\"}", "experiment 9"); });
    QVERIFY2(malformed.find("experiment 9") != std::string::npos &&
                 malformed.find("malformed") != std::string::npos,
             malformed.c_str());
    // A request stored by earlier versions (the same keys) reads back and is written the same.
    const std::string earlier =
        R"({"analyze":false,"calib_seq_len":128,"calib_text":"/t/calib.txt","calib_tokens":2048,)"
        R"("eval":{"max_windows":3,"seq_len":0},"eval_text":"/t/eval.txt",)"
        R"("evaluate_baseline":true,"kind":"lowrank","layers":{"exclude":["q_proj"],)"
        R"("include":["mlp"]},"method":"lord-data:allocation=uniform,layer_fraction=0.5,)"
        R"(factor_bits=0","rank_plan":{"ranks":[6]}})";
    const rs::LowRankRequest old = rs::lowRankRequestFromJson(earlier);
    QCOMPARE(old.uniformRank, int64_t(6));
    QCOMPARE(old.inputs.calibSeqLen, int64_t(128));
    QCOMPARE(old.inputs.layers.exclude, std::vector<std::string>{"q_proj"});
    QVERIFY(old.inputs.evaluateBaseline && !old.inputs.analyze);
    QCOMPARE(rs::lowRankRequestJson(old), earlier);
    QCOMPARE(rs::lowRankCommandLine(old, "M"),
             std::string("rankscope-cli lowrank M --calib /t/calib.txt --calib-tokens 2048 "
                         "--include 'mlp' --exclude 'q_proj' --eval /t/eval.txt --max-windows 3 "
                         "--baseline --no-analysis --method "
                         "lord-data:allocation=uniform,layer_fraction=0.5,factor_bits=0 --rank 6"));

    // Lillama's loss curves, per variant and block (schema version 4 on).
    QVERIFY(store->schemaVersion() >= 4);
    rs::LowRankRequest lillama = smallRequest("lillama:steps=3,batch=2,allocation=bottom");
    lillama.reductions = {10.0};
    lillama.inputs.analyze = false;
    const rs::RecordedLowRank distilled = rs::runRecordedLowRank(*m_session, lillama, *store);
    const auto records = rs::distillations(*store, distilled.experimentId);
    const auto& expected = distilled.result.variants[0].distillation;
    QCOMPARE(records.size(), expected.size());
    QVERIFY(!records.empty());
    for (size_t i = 0; i < records.size(); ++i) {
        QCOMPARE(records[i].block, expected[i].block);
        QCOMPARE(records[i].trainLoss, expected[i].trainLoss);
        QCOMPARE(records[i].evalSteps.front(), int64_t(0));
        QCOMPARE(records[i].evalLoss.front(), expected[i].initialLoss);
        QCOMPARE(records[i].bestStep, expected[i].bestStep);
    }
    QVERIFY(store->deleteExperiment(distilled.experimentId));
    QVERIFY(rs::distillations(*store, distilled.experimentId).empty());
}

void TestFactorize::bothJobsSelectTheSameLayers() {
    rs::LayerSelection selection;
    selection.include = {"mlp", "self_attn\\.o_proj"};
    selection.exclude = {"layers\\.[1-3]\\."};
    const std::vector<rs::SelectedLinear> selected =
        rs::selectLinears(m_session->checkpoint(), selection);
    // Blocks 0 and 4 of stories260K, in block order and kAllLinearKinds order within a block.
    const std::vector<std::string> expected = {
        "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.gate_proj",
        "model.layers.0.mlp.up_proj",      "model.layers.0.mlp.down_proj",
        "model.layers.4.self_attn.o_proj", "model.layers.4.mlp.gate_proj",
        "model.layers.4.mlp.up_proj",      "model.layers.4.mlp.down_proj"};
    QCOMPARE(selected.size(), expected.size());
    for (size_t i = 0; i < selected.size(); ++i) {
        QCOMPARE(selected[i].name, expected[i]);
        const rs::Linear& linear =
            m_session->model().layer(selected[i].block).linear(selected[i].kind);
        QCOMPARE(selected[i].outFeatures, linear.outFeatures());
        QCOMPARE(selected[i].inFeatures, linear.inFeatures());
    }

    // The low-rank job reports exactly these layers, as the compression job does.
    rs::LowRankRequest request = smallRequest("lord-weight");
    request.inputs.layers = selection;
    request.inputs.analyze = false;
    const rs::LowRankResult result = rs::runLowRank(*m_session, request);
    QCOMPARE(result.layers.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
        QCOMPARE(result.layers[i].name, expected[i]);

    request.inputs.layers.include = {"(unclosed"};
    QVERIFY(rs::test::errorOf([&] {
                rs::runLowRank(*m_session, request);
            }).find("layer pattern '(unclosed': invalid regular expression") != std::string::npos);
    request.inputs.layers.include = {"lm_head"};
    QVERIFY(rs::test::errorOf([&] {
                rs::runLowRank(*m_session, request);
            }).find("no decoder linear layer matches") != std::string::npos);
}

QTEST_GUILESS_MAIN(TestFactorize)
#include "tst_factorize.moc"
