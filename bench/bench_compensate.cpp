// Low-rank compensation: time per stage (factorisation, factors at ranks 8/16/64, error curves)
// on the 35 linear layers of stories260K (real weights, real C from calib.txt) and on random
// LLaMA-7B-shaped layers, beside the public reference algorithm in the same run: float64
// eigendecomposition of C (at::linalg_eigh) + float32 SVD of dW S (at::linalg_svd). Target: at
// least 5x faster on both 7B shapes, with the EoRA curve within 1e-6 (relative to tr(dW C dW^T))
// and B A at rank 64 within 1e-4 (relative Frobenius) of the reference.
//
// When the textbook formula's tolerance discards modes of C that carry signal (the "realistic" C),
// that reference solves a smaller, truncated problem; the bench then also times the same algorithm
// keeping every mode float64 resolves (the optimum RankScope computes), prints max_r (E - E_ref)
// against the truncated one (<= 0: never worse), and measures both float32 results against the
// same algorithm run in float64 throughout.
//
// Usage: bench_compensate [--skip-7b] [--full] [--only-7b] [--shape=DOUTxDIN] [--skip-reference]
// [--device=cuda] (--shape also takes 4096x14336; --device: the 7B-shaped layers and the
// reference on that device)
// (--full: also the reference on the realistic 4096x11008 case and analyzeLayer on the 4096x11008
// layers; adds several minutes. --only-7b: skip stories260K. --shape: only the 7B layers of that
// shape. --skip-reference: time RankScope's path alone on the 7B layers)
#include "bench_common.h"
#include "calib/layerwise.h"
#include "calib/stats.h"
#include "compensate/compensation.h"
#include "eval/perplexity.h"
#include "io/checkpoint.h"
#include "lowrank_inputs.h"
#include "methods/registry.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

namespace {

bool skipReference = false;    // --skip-reference: time only RankScope's path
at::Device gDevice = at::kCPU; // --device=cuda: the 7B-shaped layers on that device

double elapsed(std::chrono::steady_clock::time_point start) {
    return rs::bench::deviceSecondsSince(start, gDevice);
}

using Clock = std::chrono::steady_clock;
using rs::bench::rtnError;
using rs::bench::secondsSince;
using rs::bench::syntheticStats;

constexpr int64_t kRanks[] = {8, 16, 64};
constexpr int64_t kCompareRank = 64;

void progress(const char* format, const std::string& what) {
    std::printf(format, what.c_str());
    std::fflush(stdout);
}

struct Stages {
    double factor = 0, compensate = 0, curve = 0;
    double total() const { return factor + compensate + curve; }
};

struct Comparison {
    double curveDiff = 0;   // max_r |E - E_ref| / E(0)
    double curveExcess = 0; // max_r (E - E_ref) / E(0): <= 0 when ours is never worse
    double productDiff = 0; // ||BA - BA_ref||_F / ||BA_ref||_F at the compared rank
    double spanDiff = 0;    // the same on the span of C (BA Q_k Q_k^T)
};

// The reference: eigh(C) in float64, S = Q_k L_k^(1/2) over the eigenvalues above
// tol = l_max d_in eps, SVD of dW S in float32. The textbook formula's tolerance takes eps =
// eps_float32; with eps = eps_float64 it keeps every mode that float64 resolves, which is the
// untruncated problem RankScope solves (the like-for-like comparison when the textbook tolerance
// discards modes that carry real signal).
struct ReferenceRun {
    Stages time;
    std::vector<double> curve;
    at::Tensor b, a, q; // rank-kCompareRank factors (float32), kept eigenvectors (float64)
    int64_t discarded = 0;
};

ReferenceRun referenceEora(const at::Tensor& dW, const at::Tensor& gram, int64_t rank,
                           double epsilon = std::numeric_limits<float>::epsilon(),
                           at::ScalarType svdType = at::kFloat) {
    ReferenceRun run;
    auto start = Clock::now();
    auto [l, q] = at::linalg_eigh(gram);
    const double tol = l.max().item<double>() * std::max<int64_t>(1, gram.size(0)) * epsilon;
    const at::Tensor kept = (l > tol).nonzero().squeeze(1);
    const at::Tensor qk = q.index_select(1, kept), lk = l.index_select(0, kept);
    const at::Tensor s = (qk * lk.sqrt().unsqueeze(0)).to(svdType);
    const at::Tensor sPlus = (lk.rsqrt().unsqueeze(1) * qk.t()).to(svdType);
    auto [u, sv, vh] = at::linalg_svd(at::mm(dW.to(svdType), s), /*full_matrices=*/false);
    run.time.factor = elapsed(start);

    start = Clock::now();
    for (int64_t r : kRanks) {
        const int64_t k = std::min({r, rank, sv.size(0)});
        const at::Tensor root = sv.narrow(0, 0, k).sqrt();
        at::Tensor b = u.narrow(1, 0, k) * root.unsqueeze(0);
        at::Tensor a = at::mm(root.unsqueeze(1) * vh.narrow(0, 0, k), sPlus);
        if (r == kCompareRank)
            run.b = b, run.a = a;
    }
    run.time.compensate = elapsed(start);

    start = Clock::now();
    const at::Tensor dropped = q.index_select(1, (l <= tol).nonzero().squeeze(1));
    const at::Tensor leak = at::mm(dW.to(at::kDouble), dropped); // dW's part in the null space
    const double nullPart =
        (leak * leak * l.index_select(0, (l <= tol).nonzero().squeeze(1)).unsqueeze(0))
            .sum()
            .item<double>();
    const at::Tensor squares = sv.to(at::kDouble).square();
    const int64_t full = std::min(dW.size(0), dW.size(1));
    run.curve.assign(full + 1, nullPart);
    const at::Tensor cpu = squares.cpu();
    const double* p = cpu.data_ptr<double>();
    double tail = 0.0;
    for (int64_t i = full - 1; i >= 0; --i) {
        tail += i < cpu.numel() ? p[i] : 0.0;
        run.curve[i] = tail + nullPart;
    }
    run.time.curve = elapsed(start);
    run.q = qk;
    run.discarded = gram.size(0) - kept.numel();
    return run;
}

Comparison compare(const rs::LowRankFactors& mine, const std::vector<double>& curve,
                   const ReferenceRun& ref) {
    Comparison out;
    out.curveExcess = -std::numeric_limits<double>::infinity();
    for (size_t r = 0; r < curve.size(); ++r) {
        out.curveDiff = std::max(out.curveDiff, std::abs(curve[r] - ref.curve[r]));
        out.curveExcess = std::max(out.curveExcess, curve[r] - ref.curve[r]);
    }
    out.curveDiff /= ref.curve[0];
    out.curveExcess /= ref.curve[0];
    const at::Tensor refBa = at::mm(ref.b.to(at::kDouble), ref.a.to(at::kDouble));
    const at::Tensor b = mine.B.to(at::kDouble), a = mine.A.to(at::kDouble);
    out.productDiff = ((at::mm(b, a) - refBa).norm() / refBa.norm()).item<double>();
    const at::Tensor onSpan = at::mm(b, at::mm(at::mm(a, ref.q), ref.q.t()));
    out.spanDiff = ((onSpan - refBa).norm() / refBa.norm()).item<double>();
    return out;
}

struct MineRun {
    Stages time;
    std::vector<double> curve;
    rs::LowRankFactors compared;
    double discardedSeconds = 0;
    int64_t discarded = 0;
    std::string route;
};

MineRun mineEora(const at::Tensor& dW, const rs::InputStats& stats, int64_t rank,
                 const std::string& name) {
    MineRun run;
    const auto method = rs::MethodConfig::parse("eora", rs::MethodKind::Compensation);
    auto start = Clock::now();
    const auto basis = rs::buildCompensationBasis(method, dW, stats, rank, name);
    run.time.factor = elapsed(start);
    start = Clock::now();
    for (int64_t r : kRanks) {
        rs::LowRankFactors f = basis->factorsAt(std::min(r, rank));
        if (r == kCompareRank)
            run.compared = f;
    }
    run.time.compensate = elapsed(start);
    start = Clock::now();
    run.curve = basis->errorCurve();
    run.time.curve = elapsed(start);
    run.route = basis->gramRoute();
    start = Clock::now();
    run.discarded = basis->discardedModes();
    run.discardedSeconds = elapsed(start);
    return run;
}

double timeBasis(const char* method, const at::Tensor& dW, const rs::InputStats& stats,
                 int64_t rank, bool withCurve) {
    const auto start = Clock::now();
    const auto basis = rs::buildCompensationBasis(
        rs::MethodConfig::parse(method, rs::MethodKind::Compensation), dW, stats, rank, method);
    for (int64_t r : kRanks)
        basis->factorsAt(std::min(r, rank));
    if (withCurve)
        basis->errorCurve();
    return elapsed(start);
}

void printStages(const char* label, const Stages& s) {
    std::printf("  %-10s factorisation %8.3f s  factors 8/16/64 %7.3f s  curve %8.3f s  "
                "total %8.3f s\n",
                label, s.factor, s.compensate, s.curve, s.total());
}

void benchLlamaShape(int64_t dOut, int64_t dIn, bool realistic, bool reference, bool analyze) {
    const std::string name = std::to_string(dOut) + "x" + std::to_string(dIn);
    progress("\n== random LLaMA-7B-shaped layer %s (8192 calibration tokens, 3-bit RTN g128), ",
             name);
    progress("%s C ==\n", realistic ? "realistic (outliers, shared low-rank)" : "well-conditioned");
    rs::InputStats stats = syntheticStats(dIn, 8192, realistic);
    stats.gram = stats.gram.to(gDevice);
    stats.meanAbs = stats.meanAbs.to(gDevice);
    at::manual_seed(11);
    const at::Tensor w = (at::randn({dOut, dIn}) * 0.02).to(gDevice);
    const at::Tensor dW = rtnError(w, 128);

    progress("  %s: fast path ...\n", name);
    const MineRun mine = mineEora(dW, stats, kCompareRank, name);
    printStages("rankscope", mine.time);
    std::printf("  dW C dW^T: %s\n", mine.route.c_str());
    std::printf("  discarded modes of C: %lld (counted in %.3f s, on demand)\n",
                static_cast<long long>(mine.discarded), mine.discardedSeconds);
    if (!reference || skipReference) {
        std::printf("  reference skipped (--full runs it)\n");
        return;
    }
    const auto report = [&](const char* label, const ReferenceRun& ref) {
        printStages(label, ref.time);
        const Comparison c = compare(mine.compared, mine.curve, ref);
        std::printf("  %lld modes discarded; speed-up %.1fx   curve max|diff|/E0 %.2e   "
                    "max (E - E_ref)/E0 %.2e   B A rank 64: rel. Frobenius %.2e (on the span of "
                    "C %.2e)\n",
                    static_cast<long long>(ref.discarded), ref.time.total() / mine.time.total(),
                    c.curveDiff, c.curveExcess, c.productDiff, c.spanDiff);
        std::fflush(stdout);
    };
    progress("  %s: reference (eigh float64 + SVD float32, textbook tolerance) ...\n", name);
    const ReferenceRun ref = referenceEora(dW, stats.gram, kCompareRank);
    report("reference", ref);
    if (ref.discarded > 0 && stats.tokens >= dIn) {
        // With at least as many tokens as inputs C has no null space, so the textbook tolerance cut
        // modes that carry signal and that reference solved a smaller, truncated problem (with a
        // larger error at every rank); time the same algorithm on the untruncated problem for the
        // like-for-like ratio. (With fewer tokens the discarded modes are C's null space, whose
        // float32 accumulation noise no tolerance should keep.)
        progress("  %s: reference keeping every mode float64 resolves (the same optimum) ...\n",
                 name);
        const double eps64 = std::numeric_limits<double>::epsilon();
        const ReferenceRun same = referenceEora(dW, stats.gram, kCompareRank, eps64);
        report("ref. f64", same);
        // How close each float32 result is to the same algorithm run in float64 throughout: the
        // rank-64 subspace of this C is sensitive, so the two float32 results differ mostly by
        // their own rounding.
        progress("  %s: the same reference in float64 throughout (accuracy only) ...\n", name);
        const ReferenceRun exact = referenceEora(dW, stats.gram, kCompareRank, eps64, at::kDouble);
        const Comparison ours = compare(mine.compared, mine.curve, exact);
        const Comparison theirs = compare({same.b, same.a}, same.curve, exact);
        std::printf("  against float64 throughout: RankScope curve %.2e, B A %.2e; float32 "
                    "reference curve %.2e, B A %.2e\n",
                    ours.curveDiff, ours.productDiff, theirs.curveDiff, theirs.productDiff);
    }

    progress("  %s: other methods ...\n", name);
    std::printf("  svd  basis + factors %.3f s   asvd basis + factors %.3f s\n",
                timeBasis("svd", dW, stats, kCompareRank, false),
                timeBasis("asvd", dW, stats, kCompareRank, false));
    std::fflush(stdout);
    if (analyze) {
        const auto start = Clock::now();
        const rs::LayerAnalysis a = rs::analyzeLayer(w, dW, stats, name);
        std::printf("  analyzeLayer (spectra of C, W, dW, dW S + both curves) %.3f s; "
                    "E_svd(64)/E0 %.4f  E_eora(64)/E0 %.4f\n",
                    secondsSince(start), a.curves.svd[64] / a.curves.errorEnergy,
                    a.curves.eora[64] / a.curves.errorEnergy);
    }
    std::printf("  peak RSS %.0f MiB\n", rs::bench::peakRssMiB());
    std::fflush(stdout);
}

void benchStories() {
    progress("== stories260K: %s ==\n", "35 linear layers, real C from calib.txt");
    const auto session = rs::ModelSession::open(rs::bench::sharedData("models/stories260K"));
    const rs::TokenStream stream =
        rs::buildTokenStream(rs::readTextFile(rs::bench::sharedData("text/tinystories/calib.txt")),
                             rs::Protocol::TinyStories, session->tokenizer());
    // The pipeline's calibration in parallel mode: one decoder layer's activations at a time.
    const auto calibrationStart = Clock::now();
    rs::LayerwiseCalibrator calibrator(session->model(),
                                       rs::calibrationWindows(stream.tokens, 512, 0, "calib.txt"));
    std::vector<rs::LayerInputStats> stats;
    for (int64_t layer = 0; layer < session->model().numLayers(); ++layer) {
        stats.push_back(calibrator.collect(layer));
        calibrator.advance(layer);
    }
    std::printf("  calibration (parallel, %lld tokens, C of every input site) %.3f s\n",
                static_cast<long long>(calibrator.tokens()), secondsSince(calibrationStart));

    Stages mine, ref;
    Comparison worst;
    double analyze = 0, other = 0;
    int64_t layers = 0, discarded = 0;
    for (int64_t layer = 0; layer < session->model().numLayers(); ++layer) {
        for (rs::LinearKind kind : rs::kAllLinearKinds) {
            const std::string name = rs::linearName(layer, kind);
            const at::Tensor w = session->checkpoint().require(name + ".weight").to(at::kFloat);
            const at::Tensor dW = rtnError(w, 32);
            const rs::InputStats& s = stats[static_cast<size_t>(layer)].forLinear(kind);
            const int64_t rank = std::min<int64_t>({kCompareRank, w.size(0), w.size(1)});
            const MineRun m = mineEora(dW, s, rank, name);
            const ReferenceRun r = referenceEora(dW, s.gram, rank);
            mine.factor += m.time.factor, mine.compensate += m.time.compensate;
            mine.curve += m.time.curve;
            ref.factor += r.time.factor, ref.compensate += r.time.compensate;
            ref.curve += r.time.curve;
            const Comparison c = compare(m.compared, m.curve, r);
            worst.curveDiff = std::max(worst.curveDiff, c.curveDiff);
            worst.productDiff = std::max(worst.productDiff, c.productDiff);
            worst.spanDiff = std::max(worst.spanDiff, c.spanDiff);
            discarded += m.discarded;
            other += timeBasis("svd", dW, s, rank, true) + timeBasis("asvd", dW, s, rank, true);
            const auto start = Clock::now();
            rs::analyzeLayer(w, dW, s, name);
            analyze += secondsSince(start);
            ++layers;
        }
    }
    std::printf("  %lld layers, %lld calibration tokens per site, %lld discarded modes in all\n",
                static_cast<long long>(layers),
                static_cast<long long>(stats.front().sites[0].tokens),
                static_cast<long long>(discarded));
    printStages("rankscope", mine);
    printStages("reference", ref);
    std::printf("  speed-up %.1fx   worst curve max|diff|/E0 %.2e   worst B A rank 64 rel. "
                "Frobenius %.2e (on the span of C %.2e)\n",
                ref.total() / mine.total(), worst.curveDiff, worst.productDiff, worst.spanDiff);
    std::printf("  svd + asvd bases with curves %.3f s   analyzeLayer for all layers %.3f s\n",
                other, analyze);
    std::fflush(stdout);
}

} // namespace

int main(int argc, char** argv) {
    bool skip7b = false, full = false, only7b = false;
    std::string shape;
    for (int i = 1; i < argc; ++i) {
        skip7b |= std::strcmp(argv[i], "--skip-7b") == 0;
        full |= std::strcmp(argv[i], "--full") == 0;
        only7b |= std::strcmp(argv[i], "--only-7b") == 0;
        skipReference |= std::strcmp(argv[i], "--skip-reference") == 0;
        if (std::strncmp(argv[i], "--shape=", 8) == 0)
            shape = argv[i] + 8, only7b = true;
    }
    gDevice = rs::bench::deviceArgument(argc, argv);
    if (!gDevice.is_cpu())
        only7b = true; // stories260K's layers are too small to say anything on a GPU
    const auto wanted = [&](const char* name) { return shape.empty() || shape == name; };
    rs::initializeRuntime();
    std::printf("threads %d\n", at::get_num_threads());
    const auto total = Clock::now();
    if (!only7b)
        benchStories();
    if (!skip7b) {
        if (wanted("4096x4096")) {
            benchLlamaShape(4096, 4096, true, true, true);
            benchLlamaShape(4096, 4096, false, true, false);
        }
        if (wanted("4096x11008")) {
            benchLlamaShape(4096, 11008, false, true, full);
            benchLlamaShape(4096, 11008, true, full, full);
        }
        if (shape == "4096x14336") // LLaMA-3-8B's MLP
            benchLlamaShape(4096, 14336, true, true, false);
    }
    std::printf("\ntotal %.1f s\n", secondsSince(total));
    return 0;
}
