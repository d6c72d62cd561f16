// Rank budgets: the planner against exact dynamic programming, constraints, budget units, layer
// weights, the Pareto front and Spearman's correlation; then plans on the real curves of
// stories260K and a small trade-off sweep.
#include "budget/pareto.h"
#include "budget/planner.h"
#include "budget/resolve.h"
#include "budget/units.h"
#include "budget/weights.h"
#include "methods/registry.h"
#include "testdata.h"

#include <QTest>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace {

constexpr double kObjectiveTolerance = 1e-9; // relative, sums of doubles in different orders
constexpr double kUnitTolerance = 1e-12;     // relative, size conversions

std::mt19937_64& rng() {
    static std::mt19937_64 generator(std::random_device{}());
    return generator;
}

double uniform01() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng());
}
int64_t between(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng());
}

// E(r) = sum_{i > r} s_i^2 with descending s (convex, like an EoRA curve), or arbitrary
// non-increasing steps (not convex).
std::vector<double> randomCurve(int64_t maxRank, bool convex) {
    std::vector<double> steps(static_cast<size_t>(maxRank));
    for (double& s : steps)
        s = convex ? std::pow(uniform01() + 0.01, 2) : uniform01() * uniform01() * 3;
    if (convex)
        std::sort(steps.rbegin(), steps.rend());
    std::vector<double> curve(size_t(maxRank) + 1, uniform01() * 0.1);
    for (int64_t r = maxRank - 1; r >= 0; --r)
        curve[size_t(r)] = curve[size_t(r) + 1] + steps[size_t(r)];
    return curve;
}

std::vector<rs::PlanLayer> randomLayers(size_t count, int64_t maxDim, bool convex) {
    std::vector<rs::PlanLayer> layers;
    for (size_t l = 0; l < count; ++l) {
        rs::PlanLayer layer;
        layer.name = "model.layers." + std::to_string(l) + (l % 2 ? ".mlp.down_proj" : ".q_proj");
        layer.outFeatures = between(1, maxDim);
        layer.inFeatures = between(1, maxDim);
        layer.curve = randomCurve(std::min(layer.outFeatures, layer.inFeatures), convex);
        layer.weight = 0.2 + uniform01();
        layers.push_back(layer);
    }
    return layers;
}

// The exact optimum by dynamic programming over the budget, over each layer's allowed ranks.
double exactOptimum(const rs::RankPlanner& planner, int64_t budget) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> best(size_t(budget) + 1, 0.0);
    for (size_t l = 0; l < planner.layers().size(); ++l) {
        const rs::PlanLayer& layer = planner.layers()[l];
        const rs::RankRange& range = planner.ranges()[l];
        std::vector<double> next(best.size(), inf);
        for (int64_t b = 0; b <= budget; ++b)
            for (int64_t r = range.lo; r <= range.hi; r += range.step) {
                const int64_t cost = r * layer.rankCost();
                if (cost > b)
                    break;
                next[size_t(b)] =
                    std::min(next[size_t(b)],
                             best[size_t(b - cost)] + layer.weight * layer.curve[size_t(r)]);
            }
        best = std::move(next);
    }
    return best[size_t(budget)];
}

struct GapReport {
    int plans = 0;
    int withGap = 0;
    double worstRelative = 0.0;
    void add(double objective, double optimum) {
        ++plans;
        const double gap = objective - optimum;
        if (gap > kObjectiveTolerance * std::max(1.0, optimum)) {
            ++withGap;
            worstRelative = std::max(worstRelative, gap / std::max(optimum, 1e-300));
        }
    }
    void print(const char* what) const {
        qInfo("%s: %d plans, %d above the exact optimum, worst by %.2f %%", what, plans, withGap,
              100.0 * worstRelative);
    }
};

// Checks one plan against the exact optimum: within budget, at or above the optimum, and the
// reported lower bound at or below it.
void checkAgainstExact(const rs::RankPlanner& planner, int64_t budget, GapReport& report) {
    const rs::Plan plan = planner.optimal(budget);
    const double optimum = exactOptimum(planner, budget);
    const double slack = kObjectiveTolerance * std::max(1.0, optimum);
    QVERIFY(plan.parameters <= budget);
    QVERIFY2(plan.objective >= optimum - slack,
             "the plan beats the exact optimum: bad bookkeeping");
    QVERIFY2(plan.lowerBound <= optimum + slack, "the lower bound exceeds the exact optimum");
    for (size_t l = 0; l < plan.ranks.size(); ++l) {
        const rs::RankRange& range = planner.ranges()[l];
        QVERIFY(plan.ranks[l] >= range.lo && plan.ranks[l] <= range.hi);
        QCOMPARE((plan.ranks[l] - range.lo) % range.step, int64_t(0));
    }
    const rs::Plan again = planner.evaluate(plan.ranks);
    QCOMPARE(again.parameters, plan.parameters);
    QVERIFY(std::fabs(again.objective - plan.objective) <= slack);
    report.add(plan.objective, optimum);
}

} // namespace

class TestBudget : public QObject {
    Q_OBJECT
private slots:
    void greedyIsExactForEqualShapesAndConvexCurves();
    void greedyAgainstExactSearch();
    void constraintsShapeThePlan();
    void uniformAndBreakEvenPlans();
    void badInputIsRefused();
    void budgetUnitsConvertExactly();
    void budgetSpecsParse();
    void layerWeights();
    void paretoFrontAndSpearman();
};

void TestBudget::greedyIsExactForEqualShapesAndConvexCurves() {
    // Every segment costs the same: greedy on convex curves is the exact optimum at every budget.
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<rs::PlanLayer> layers = randomLayers(size_t(between(2, 5)), 6, true);
        const int64_t d = between(2, 8);
        for (rs::PlanLayer& l : layers) {
            l.outFeatures = l.inFeatures = d;
            l.curve = randomCurve(d, true);
        }
        const rs::RankPlanner planner(layers);
        for (int64_t budget = 0; budget <= planner.fullRankParameters(); ++budget) {
            const rs::Plan plan = planner.optimal(budget);
            const double optimum = exactOptimum(planner, budget);
            QVERIFY(std::fabs(plan.objective - optimum) <= kObjectiveTolerance * optimum + 1e-15);
        }
    }
}

void TestBudget::greedyAgainstExactSearch() {
    GapReport convex, nonConvex, aligned;
    for (int trial = 0; trial < 60; ++trial) {
        const bool isConvex = trial % 2 == 0;
        const rs::RankPlanner planner(randomLayers(size_t(between(2, 5)), 9, isConvex));
        for (int64_t budget = 0; budget <= planner.fullRankParameters(); ++budget)
            checkAgainstExact(planner, budget, isConvex ? convex : nonConvex);
    }
    for (int trial = 0; trial < 10; ++trial) {
        std::vector<rs::PlanLayer> layers = randomLayers(3, 40, true);
        for (rs::PlanLayer& l : layers) {
            l.outFeatures = between(16, 40);
            l.inFeatures = between(16, 40);
            l.curve = randomCurve(std::min(l.outFeatures, l.inFeatures), true);
        }
        rs::PlanConstraints c;
        c.align = 8;
        const rs::RankPlanner planner(layers, c);
        for (int64_t budget = 0; budget <= planner.maxParameters(); budget += between(1, 40))
            checkAgainstExact(planner, budget, aligned);
    }
    // The hull rounding gap: greedy fills what the hull prefix leaves, not always optimally.
    convex.print("convex curves, align 1");
    nonConvex.print("non-convex curves, align 1");
    aligned.print("convex curves, align 8");
}

void TestBudget::constraintsShapeThePlan() {
    std::vector<rs::PlanLayer> layers;
    for (int block = 0; block < 3; ++block)
        for (const char* kind : {"self_attn.q_proj", "mlp.down_proj"}) {
            rs::PlanLayer l;
            l.name = "model.layers." + std::to_string(block) + "." + kind;
            l.outFeatures = 64;
            l.inFeatures = std::string(kind) == "mlp.down_proj" ? 172 : 64;
            l.curve = randomCurve(64, true);
            layers.push_back(l);
        }
    rs::PlanConstraints c;
    c.align = 8;
    c.minRank = 8;
    c.maxRank = 48;
    c.overrides = {rs::parseRankRule("down_proj=32"),
                   rs::parseRankRule("layers\\.0\\.self_attn\\..*=16:24")};
    c.exclude = {"model\\.layers\\.2\\.self_attn\\.q_proj"};
    const rs::RankPlanner planner(layers, c);
    const std::vector<rs::RankRange>& ranges = planner.ranges();
    QCOMPARE(ranges[0].lo, int64_t(16));
    QCOMPARE(ranges[0].hi, int64_t(24));
    QCOMPARE(ranges[2].lo, int64_t(8));
    QCOMPARE(ranges[2].hi, int64_t(48));
    for (size_t l : {1, 3, 5})
        QVERIFY(ranges[l].fixed() && ranges[l].lo == 32);
    QVERIFY(ranges[4].fixed() && ranges[4].lo == 0);
    GapReport report;
    for (int64_t budget = planner.minParameters(); budget <= planner.maxParameters();
         budget += between(1, 500))
        checkAgainstExact(planner, budget, report);
    report.print("constrained (min 8, max 48, align 8, overrides, exclusion)");
}

void TestBudget::uniformAndBreakEvenPlans() {
    std::vector<rs::PlanLayer> layers = randomLayers(4, 30, true);
    layers[0].outFeatures = 64;
    layers[0].inFeatures = 172;
    layers[0].curve = randomCurve(64, true);
    rs::PlanConstraints c;
    c.align = 4;
    const rs::RankPlanner planner(layers, c);
    const rs::Plan u = planner.uniform(10);
    int64_t parameters = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
        const int64_t cap = std::min(layers[l].outFeatures, layers[l].inFeatures) / 4 * 4;
        QCOMPARE(u.ranks[l], std::min<int64_t>(8, cap));
        parameters += u.ranks[l] * layers[l].rankCost();
    }
    QCOMPARE(u.parameters, parameters);
    // Break-even rank of 64 x 172: 64 * 172 / 236 = 46.6; half of it is 23.3 -> 20 (align 4).
    QCOMPARE(planner.uniformFraction(0.5).ranks[0], int64_t(20));
    QCOMPARE(planner.uniformFraction(0.0).ranks[0], int64_t(0));
    // The optimum never loses to uniform in its own budget.
    const rs::Plan best = planner.optimal(u.parameters);
    QVERIFY(best.objective <= u.objective * (1 + kObjectiveTolerance));
}

void TestBudget::badInputIsRefused() {
    using rs::test::errorOf;
    std::vector<rs::PlanLayer> layers = randomLayers(3, 12, true);
    for (rs::PlanLayer& l : layers) {
        l.outFeatures = l.inFeatures = 12;
        l.curve = randomCurve(12, true);
    }
    const rs::RankPlanner planner(layers);
    QVERIFY(errorOf([&] { planner.optimal(-1); }).find("must not be negative") !=
            std::string::npos);
    QVERIFY(errorOf([&] {
                planner.optimal(planner.fullRankParameters() + 1);
            }).find("exceeds the full-rank cost") != std::string::npos);
    QVERIFY(errorOf([&] { planner.optimal(planner.fullRankParameters()); }).empty());

    const auto constrained = [&](rs::PlanConstraints c) {
        return errorOf([&] { rs::RankPlanner p(layers, c); });
    };
    rs::PlanConstraints c;
    c.overrides = {rs::parseRankRule("gate_proj=8")};
    QVERIFY(constrained(c).find("'gate_proj=8': matches no layer") != std::string::npos);
    c.overrides = {rs::parseRankRule("down_proj=2"), rs::parseRankRule("layers\\.1\\..*=1")};
    QVERIFY(constrained(c).find("contradicting overrides") != std::string::npos);
    c.overrides = {rs::parseRankRule("down_proj=1")};
    c.exclude = {"layers\\.1\\..*"};
    QVERIFY(constrained(c).find("is excluded by") != std::string::npos);
    c = {};
    c.exclude = {"v_proj"};
    QVERIFY(constrained(c).find("'v_proj': matches no layer") != std::string::npos);
    c = {};
    c.minRank = 5;
    c.maxRank = 4;
    QVERIFY(constrained(c).find("exceeds the maximum rank") != std::string::npos);
    c = {};
    c.align = 8;
    c.overrides = {rs::parseRankRule("q_proj=4")};
    QVERIFY(constrained(c).find("not a multiple of the alignment 8") != std::string::npos);
    c = {};
    c.align = 0;
    QVERIFY(constrained(c).find("alignment") != std::string::npos);
    c = {};
    c.overrides = {rs::parseRankRule("q_proj=1000")};
    QVERIFY(constrained(c).find("more than the layer's") != std::string::npos);
    c = {};
    c.minRank = 3;
    c.maxRank = 5;
    c.align = 8;
    QVERIFY(constrained(c).find("leaves no multiple of 8 in [3, 5]") != std::string::npos);

    c = {};
    c.minRank = 1;
    const rs::RankPlanner floored(layers, c);
    QVERIFY(errorOf([&] { floored.optimal(floored.minParameters() - 1); }).find("below the") !=
            std::string::npos);

    QVERIFY(errorOf([] { rs::parseRankRule("down_proj"); }).find("PATTERN=RANK") !=
            std::string::npos);
    QVERIFY(errorOf([] { rs::parseRankRule("down_proj=x"); }).find("non-negative integer") !=
            std::string::npos);
    QVERIFY(errorOf([] { rs::parseRankRule("down_proj=9:3"); }).find("exceeds the maximum") !=
            std::string::npos);
    QVERIFY(errorOf([] { rs::parseRankRule("([=3"); }).find("regular expression") !=
            std::string::npos);

    std::vector<rs::PlanLayer> bad = layers;
    bad[1].curve[1] = std::nan("");
    QVERIFY(errorOf([&] { rs::RankPlanner p(bad); }).find("NaN") != std::string::npos);
    bad = layers;
    bad[0].curve.clear();
    QVERIFY(errorOf([&] { rs::RankPlanner p(bad); }).find("no error curve") != std::string::npos);
    bad = layers;
    bad[2].weight = -1;
    QVERIFY(errorOf([&] { rs::RankPlanner p(bad); }).find("weight") != std::string::npos);
}

void TestBudget::budgetUnitsConvertExactly() {
    // By hand: one 4 x 64 layer, 3 bits, group 32: 3 * 256 weight bits + 2 groups * 4 rows *
    // (16 + 3) = 920 bits over 256 weights; 10 adapter parameters add 160 bits.
    const rs::SizeModel hand(1000, {{4, 64}}, {3, 32});
    QCOMPARE(hand.baseBits(), int64_t(920));
    QCOMPARE(hand.bitsPerWeight(0), 920.0 / 256.0);
    QCOMPARE(hand.bitsPerWeight(10), 1080.0 / 256.0);
    QCOMPARE(hand.percentOfModel(10), 1.0);
    QCOMPARE(hand.parametersForBitsPerWeight(1080.0 / 256.0), int64_t(10));
    QCOMPARE(hand.parametersForBitsPerWeight(1095.0 / 256.0), int64_t(10)); // 15 bits short of 11
    QCOMPARE(hand.parametersForPercent(1.0), int64_t(10));
    // A last, shorter group counts as a group; group -1 is one per row; unquantized has none.
    QCOMPARE(rs::SizeModel(1, {{2, 40}}, {4, 32}).baseBits(), int64_t(4 * 80 + 2 * 2 * 20));
    QCOMPARE(rs::SizeModel(1, {{2, 40}}, {4, -1}).baseBits(), int64_t(4 * 80 + 2 * 20));
    QCOMPARE(rs::SizeModel(1, {{2, 40}}, {16, 32}).baseBits(), int64_t(16 * 80));

    for (int trial = 0; trial < 200; ++trial) {
        std::vector<rs::SizeModel::Shape> shapes;
        for (int64_t l = between(1, 40); l > 0; --l)
            shapes.push_back({between(1, 20000), between(1, 20000)});
        const int bits = int(std::vector<int>{2, 3, 4, 8, 16}[size_t(between(0, 4))]);
        const int64_t group = std::vector<int64_t>{-1, 32, 64, 128}[size_t(between(0, 3))];
        const rs::SizeModel size(between(1, int64_t(1) << 40), shapes, {bits, group});
        for (int k = 0; k < 50; ++k) {
            const int64_t p = between(0, int64_t(1) << 36);
            QCOMPARE(size.parametersForBitsPerWeight(size.bitsPerWeight(p)), p);
            QCOMPARE(size.parametersForPercent(size.percentOfModel(p)), p);
            // The inverse of an arbitrary value is the largest count that does not exceed it.
            const double bpw = size.baseBitsPerWeight() + uniform01() * 8;
            const int64_t q = size.parametersForBitsPerWeight(bpw);
            QVERIFY(size.bitsPerWeight(q) <= bpw * (1 + kUnitTolerance));
            QVERIFY(size.bitsPerWeight(q + 1) > bpw);
            const double percent = uniform01() * 50;
            const int64_t s = size.parametersForPercent(percent);
            QVERIFY(size.percentOfModel(s) <= percent * (1 + kUnitTolerance));
            QVERIFY(size.percentOfModel(s + 1) > percent);
        }
    }
    using rs::test::errorOf;
    QVERIFY(errorOf([&] { hand.parametersForBitsPerWeight(3.0); }).find("below the 3.59375") !=
            std::string::npos);
    QVERIFY(errorOf([&] { hand.parametersForPercent(-1); }).find("non-negative") !=
            std::string::npos);
    QVERIFY(errorOf([] { rs::SizeModel(1, {{2, 2}}, {3, 0}); }).find("group") != std::string::npos);
}

void TestBudget::budgetSpecsParse() {
    using Unit = rs::BudgetSpec::Unit;
    QCOMPARE(rs::parseBudget("12000").unit, Unit::Parameters);
    QCOMPARE(rs::parseBudget("2.5%").unit, Unit::Percent);
    QCOMPARE(rs::parseBudget("2.5%").value, 2.5);
    QCOMPARE(rs::parseBudget("3.25bpw").unit, Unit::BitsPerWeight);
    QCOMPARE(rs::parseBudget("r8").unit, Unit::UniformRank);
    QCOMPARE(rs::parseBudget("r8").text(), std::string("r8"));
    QCOMPARE(rs::parseBudgetList("r4,1%,3.5bpw").size(), size_t(3));
    for (const char* bad : {"", "-5", "r", "r2.5", "12.5", "abc", "5bits", "nan%"})
        QVERIFY2(!rs::test::errorOf([&] { rs::parseBudget(bad); }).empty(), bad);

    // Uniform-rank budgets spend exactly what the uniform plan spends.
    const rs::RankPlanner planner(randomLayers(4, 20, true));
    const rs::SizeModel size(100000, {{20, 20}}, {4, 32});
    QCOMPARE(rs::budgetParameters(rs::parseBudget("r3"), planner, size),
             planner.uniform(3).parameters);
    const rs::MethodConfig rtn =
        rs::MethodConfig::parse("rtn:bits=3,group=32", rs::MethodKind::Compression);
    QCOMPARE(rs::weightFormatOf(rtn).bits, 3);
    QCOMPARE(rs::weightFormatOf(rtn).group, int64_t(32));
    QCOMPARE(
        rs::weightFormatOf(rs::MethodConfig::parse("magnitude", rs::MethodKind::Compression)).bits,
        16);
}

void TestBudget::layerWeights() {
    const std::vector<std::string> names{"a", "b"};
    const std::vector<double> output{4.0, 0.5}, error{1.0, 0.25};
    QCOMPARE(rs::layerWeights(rs::LayerWeighting::Equal, names, output, error),
             (std::vector<double>{1.0, 1.0}));
    QCOMPARE(rs::layerWeights(rs::LayerWeighting::Energy, names, output, error),
             (std::vector<double>{0.25, 2.0}));
    QCOMPARE(rs::layerWeights(rs::LayerWeighting::Sensitivity, names, output, error, {0.5, -0.1}),
             (std::vector<double>{0.5, 0.0}));
    QVERIFY(rs::test::errorOf([&] {
                rs::layerWeights(rs::LayerWeighting::Energy, names, {1.0, 0.0}, error);
            }).find("b: has no positive output energy") != std::string::npos);
    QVERIFY(rs::test::errorOf([&] {
                rs::layerWeights(rs::LayerWeighting::Sensitivity, names, output, error);
            }).find("sensitivities are missing") != std::string::npos);
    QCOMPARE(rs::parseWeighting("energy"), rs::LayerWeighting::Energy);
    QVERIFY(!rs::test::errorOf([] { rs::parseWeighting("loud"); }).empty());
}

void TestBudget::paretoFrontAndSpearman() {
    const std::vector<rs::TradeoffPoint> points{{3.0, 0.5}, {2.0, 0.9}, {3.5, 0.5}, {4.0, 0.1},
                                                {2.5, 1.0}, {2.0, 0.9}, {5.0, 0.2}};
    QCOMPARE(rs::paretoFront(points), (std::vector<size_t>{1, 0, 3}));
    // Fresh random points: no front point is dominated, every other point is.
    std::vector<rs::TradeoffPoint> cloud(200);
    for (rs::TradeoffPoint& p : cloud)
        p = {uniform01(), uniform01()};
    const std::vector<size_t> front = rs::paretoFront(cloud);
    for (size_t i = 0; i < cloud.size(); ++i) {
        bool dominated = false;
        for (const rs::TradeoffPoint& q : cloud)
            dominated |= q.size <= cloud[i].size && q.error <= cloud[i].error &&
                         (q.size < cloud[i].size || q.error < cloud[i].error);
        QCOMPARE(std::find(front.begin(), front.end(), i) != front.end(), !dominated);
    }

    QCOMPARE(rs::spearman({1, 2, 3, 4}, {10, 20, 25, 100}), 1.0);
    QCOMPARE(rs::spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
    // Ties get average ranks: x ranks 1, 2.5, 2.5, 4; y ranks 1, 2, 3, 4 -> 0.9486832981.
    QVERIFY(std::fabs(rs::spearman({1, 2, 2, 3}, {1, 2, 3, 4}) - 0.9486832980505138) < 1e-12);
    QVERIFY(!rs::test::errorOf([] { rs::spearman({1}, {2}); }).empty());
    QVERIFY(!rs::test::errorOf([] { rs::spearman({1, 1, 1}, {1, 2, 3}); }).empty());
}

QTEST_GUILESS_MAIN(TestBudget)
#include "tst_budget.moc"
