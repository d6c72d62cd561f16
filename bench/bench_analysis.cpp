// analyzeLayer (the spectra of C, W, dW and dW S and both error curves,
// core/compensate/analysis.cpp) on random LLaMA-7B-shaped layers (3-bit RTN g128 error, 8192
// calibration tokens with the realistic C of bench_compensate), timed beside the EoRA basis of the
// same layer (the compensation itself) in the same run: the analysis on its own, reusing the basis
// as the pipeline does, and the previous full float64 path (SVD of dW, the congruence P C P^T and
// its eigenvalues, float64 spectra of C and W). The results are checked against a float64 reference
// computed the textbook way: LibTorch float64 eigh of dW dW^T (the SVD of dW), and float64
// eigenvalues of dW C dW^T, of W W^T and of C. Target: the analysis a small fraction of the basis,
// curves within 1e-6 of E(0).
//
// Usage: bench_analysis [--shape=DOUTxDIN] [--well-conditioned] [--skip-reference] [--skip-old]
// [--full] (default: 4096x4096 and 4096x11008 with the realistic C; --full: also the float64
// eigenvalues of C in the reference when d_in > 4096, minutes on two cores)
#include "bench_common.h"
#include "calib/stats.h"
#include "compensate/compensation.h"
#include "compensate/symmetric.h"
#include "compensate/validation.h"
#include "lowrank_inputs.h"
#include "methods/registry.h"
#include "pipeline/session.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using rs::bench::loadAverage;
using rs::bench::secondsSince;

constexpr int64_t kTokens = 8192;
constexpr int64_t kBasisRank = 64;

at::Tensor descending(const at::Tensor& ascending) {
    return ascending.flip(0);
}

// out[r] = sum_{i >= r} max(v_i, 0), r = 0 .. n.
at::Tensor tails(const at::Tensor& values) {
    const at::Tensor v = values.clamp_min(0.0);
    return at::cat({v.flip(0).cumsum(0).flip(0), at::zeros({1}, v.options())});
}

struct Reference {
    at::Tensor svd, eora;                   // curves
    at::Tensor gram, weight, error, scaled; // spectra (gram undefined when skipped)
    double seconds = 0;
};

// The textbook float64 analysis: eigenvectors of the short-side Gram matrix of dW for the SVD
// curve, eigenvalues of dW C dW^T for the EoRA curve and sigma(dW S).
Reference reference(const at::Tensor& w, const at::Tensor& dW, const at::Tensor& c, bool gram) {
    const auto start = Clock::now();
    Reference out;
    const at::Tensor e = dW.to(at::kDouble);
    at::Tensor m = at::mm(at::mm(e, c), e.t());
    m = (m + m.t()) * 0.5;
    const int64_t k = std::min(e.size(0), e.size(1));
    at::Tensor gains;
    if (e.size(0) <= e.size(1)) {
        auto [values, u] = at::linalg_eigh(at::mm(e, e.t()));
        u = u.flip(1);
        out.error = descending(values).clamp_min(0.0).sqrt();
        gains = (at::mm(u.t(), m) * u.t()).sum(1); // u_i^T M u_i
    } else {
        auto [values, v] = at::linalg_eigh(at::mm(e.t(), e));
        v = v.flip(1);
        out.error = descending(values).clamp_min(0.0).sqrt();
        gains = descending(values) * (at::mm(v.t(), c) * v.t()).sum(1); // S_i^2 v_i^T C v_i
    }
    out.svd = tails(gains);
    const at::Tensor mValues = descending(at::linalg_eigvalsh(m)).narrow(0, 0, k);
    out.eora = tails(mValues);
    out.scaled = mValues.clamp_min(0.0).sqrt();
    const at::Tensor wd = w.to(at::kDouble);
    out.weight = descending(at::linalg_eigvalsh(w.size(0) <= w.size(1) ? at::mm(wd, wd.t())
                                                                       : at::mm(wd.t(), wd)))
                     .clamp_min(0.0)
                     .sqrt();
    if (gram)
        out.gram = descending(at::linalg_eigvalsh(c));
    out.seconds = secondsSince(start);
    return out;
}

// The full float64 analysis this branch replaces (core/compensate/analysis.cpp before the reuse of
// the EoRA decomposition), kept here to time it: eigenpairs of dW's short-side Gram matrix, the
// congruence T = P C P^T (P = U^T dW) whose diagonal gives the SVD curve and whose eigenvalues give
// the EoRA curve, and float64 band eigenvalues of C and of W's Gram matrix.
rs::LayerAnalysis fullPathAnalysis(const at::Tensor& weight, const at::Tensor& weightError,
                                   const rs::InputStats& stats, const std::string& name) {
    using namespace rs::compensate;
    const LayerInputs in = validatedInputs(weightError, stats, name);
    const at::Tensor& e = in.error;
    const at::Tensor& c = in.gram;
    at::Tensor squares, p;
    if (in.dOut <= in.dIn) {
        const EigenPairs pairs = allEigenpairs(symmetricProduct(e, e));
        squares = pairs.values.clamp_min(0.0);
        p = at::mm(pairs.vectors.t(), e);
    } else {
        const EigenPairs pairs = allEigenpairs(symmetricProduct(e.t(), e.t()));
        squares = pairs.values.clamp_min(0.0);
        p = squares.sqrt().unsqueeze(1) * pairs.vectors.t();
    }
    const at::Tensor t = congruence(p, c, Precision::Float64);
    const at::Tensor gains = SymmetricSpectrum(t, Precision::Float64).eigenvalues();
    rs::LayerAnalysis out;
    out.curves.svd = tailSums(t.diagonal());
    out.curves.eora = tailSums(gains);
    out.curves.errorEnergy = out.curves.svd.front();
    const at::Tensor w32 = weight.to(at::kFloat);
    out.curves.outputEnergy = (at::mm(w32, c.to(at::kFloat)) * w32).sum(at::kDouble).item<double>();
    const at::Tensor gramValues = SymmetricSpectrum(c, Precision::Float64).eigenvalues();
    out.spectra.gramEigenvalues = toVector(gramValues);
    const at::Tensor w = weight.to(at::kDouble);
    const at::Tensor wGram =
        w.size(0) <= w.size(1) ? symmetricProduct(w, w) : symmetricProduct(w.t(), w.t());
    out.spectra.weightSingular =
        toVector(SymmetricSpectrum(wGram, Precision::Float64).eigenvalues().clamp_min(0.0).sqrt());
    out.spectra.errorSingular = toVector(squares.sqrt());
    out.spectra.scaledErrorSingular = toVector(gains.clamp_min(0.0).sqrt());
    return out;
}

// max_i |a_i - b_i| / b_0 and how many entries are more than 1 % off.
void printSpectrum(const char* name, const std::vector<double>& got, const at::Tensor& ref) {
    const at::Tensor a = at::tensor(got, at::kDouble);
    if (a.numel() != ref.numel()) {
        std::printf("    %-7s length %lld, reference %lld\n", name,
                    static_cast<long long>(a.numel()), static_cast<long long>(ref.numel()));
        return;
    }
    const at::Tensor diff = (a - ref).abs();
    const double top = ref[0].item<double>();
    const int64_t off = (diff > 1e-2 * ref.abs()).sum().item<int64_t>();
    std::printf(
        "    %-7s max|diff| / max %.2e   entries > 1%% off: %lld of %lld (smallest / largest "
        "%.1e)\n",
        name, diff.max().item<double>() / top, static_cast<long long>(off),
        static_cast<long long>(a.numel()), ref[-1].item<double>() / top);
}

double curveDiff(const std::vector<double>& curve, const at::Tensor& ref) {
    const at::Tensor a = at::tensor(curve, at::kDouble);
    return ((a - ref).abs().max() / ref[0]).item<double>();
}

struct Options {
    bool realistic = true, withReference = true, withOld = true, full = false;
};

// Seconds of one call, with the process CPU seconds it took.
template <typename F> double timed(F&& call, double* cpuSeconds = nullptr) {
    const auto start = Clock::now();
    const std::clock_t cpuStart = std::clock();
    call();
    if (cpuSeconds)
        *cpuSeconds = double(std::clock() - cpuStart) / CLOCKS_PER_SEC;
    return secondsSince(start);
}

struct ShapeFigures {
    std::string name;
    double basis = 0, alone = 0, reused = 0, shared = 0, old = 0; // seconds; old 0 when skipped
};

ShapeFigures benchShape(int64_t dOut, int64_t dIn, const Options& opt) {
    ShapeFigures fig;
    fig.name = std::to_string(dOut) + "x" + std::to_string(dIn);
    const std::string& name = fig.name;
    std::printf("\n== %s, %s C, %lld tokens, 3-bit RTN g128 (load %s) ==\n", name.c_str(),
                opt.realistic ? "realistic" : "well-conditioned", static_cast<long long>(kTokens),
                loadAverage().c_str());
    std::fflush(stdout);
    const rs::InputStats stats = rs::bench::syntheticStats(dIn, kTokens, opt.realistic);
    at::manual_seed(11);
    const at::Tensor w = at::randn({dOut, dIn}) * 0.02;
    const at::Tensor dW = rs::bench::rtnError(w, 128);
    const auto eoraMethod = rs::MethodConfig::parse("eora", rs::MethodKind::Compensation);

    std::unique_ptr<rs::CompensationBasis> basis;
    fig.basis =
        timed([&] { basis = rs::buildCompensationBasis(eoraMethod, dW, stats, kBasisRank, name); });
    const double curveSeconds = timed([&] { basis->errorCurve(); });
    std::printf("  EoRA basis (rank %lld, the compensation) %.3f s, + its curve %.3f s\n",
                static_cast<long long>(kBasisRank), fig.basis, curveSeconds);
    std::fflush(stdout);

    rs::LayerAnalysis reused;
    double cpu = 0;
    fig.reused = timed([&] { reused = rs::analyzeLayer(w, dW, stats, name, *basis); }, &cpu);
    std::printf("  analyzeLayer reusing the basis %.3f s = %.2fx the basis (process CPU %.1f s)\n",
                fig.reused, fig.reused / fig.basis, cpu);
    std::fflush(stdout);
    rs::AnalysisReuse both{basis.get(), &reused.spectra.gramEigenvalues};
    fig.shared = timed([&] { rs::analyzeLayer(w, dW, stats, name, both); });
    double sum = 0.0;
    for (double l : reused.spectra.gramEigenvalues)
        sum += l;
    const double trace = stats.gram.trace().item<double>();
    std::printf("  + C's eigenvalues given (k, v, up after q, gate; or cached) %.3f s = %.2fx the "
                "basis; |sum l(C) - tr C| / tr C %.1e\n",
                fig.shared, fig.shared / fig.basis, std::abs(sum - trace) / trace);
    std::fflush(stdout);
    basis.reset();
    rs::LayerAnalysis a;
    fig.alone = timed([&] { a = rs::analyzeLayer(w, dW, stats, name); }, &cpu);
    std::printf("  analyzeLayer alone %.3f s = %.2fx the basis (process CPU %.1f s); curves as "
                "reused: %s\n",
                fig.alone, fig.alone / fig.basis, cpu,
                reused.curves.svd == a.curves.svd && reused.curves.eora == a.curves.eora ? "yes"
                                                                                         : "no");
    std::fflush(stdout);
    if (opt.withOld) {
        rs::LayerAnalysis old;
        fig.old = timed([&] { old = fullPathAnalysis(w, dW, stats, name); }, &cpu);
        std::printf("  previous full float64 path %.3f s = %.2fx the basis (process CPU %.1f s); "
                    "new / old %.3f\n",
                    fig.old, fig.old / fig.basis, cpu, fig.reused / fig.old);
        std::fflush(stdout);
    }

    if (!opt.withReference)
        return fig;
    const Reference ref = reference(w, dW, stats.gram, opt.full || dIn <= 4096);
    std::printf("  float64 reference %.1f s\n", ref.seconds);
    std::printf("    curves: svd max|diff| / E(0) %.2e   eora %.2e   (E(0) %.6e vs %.6e)\n",
                curveDiff(a.curves.svd, ref.svd), curveDiff(a.curves.eora, ref.eora),
                a.curves.errorEnergy, ref.svd[0].item<double>());
    if (ref.gram.defined())
        printSpectrum("l(C)", a.spectra.gramEigenvalues, ref.gram);
    printSpectrum("s(W)", a.spectra.weightSingular, ref.weight);
    printSpectrum("s(dW)", a.spectra.errorSingular, ref.error);
    printSpectrum("s(dW S)", a.spectra.scaledErrorSingular, ref.scaled);
    std::fflush(stdout);
    return fig;
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    std::string shape;
    for (int i = 1; i < argc; ++i) {
        opt.realistic &= std::strcmp(argv[i], "--well-conditioned") != 0;
        opt.withReference &= std::strcmp(argv[i], "--skip-reference") != 0;
        opt.withOld &= std::strcmp(argv[i], "--skip-old") != 0;
        opt.full |= std::strcmp(argv[i], "--full") == 0;
        if (std::strncmp(argv[i], "--shape=", 8) == 0)
            shape = argv[i] + 8;
    }
    rs::initializeRuntime();
    std::printf("threads %d\n", at::get_num_threads());
    std::vector<std::pair<int64_t, int64_t>> shapes = {{4096, 4096}, {4096, 11008}};
    if (!shape.empty()) {
        const size_t x = shape.find('x');
        shapes = {{std::stoll(shape.substr(0, x)), std::stoll(shape.substr(x + 1))}};
    }
    const auto total = Clock::now();
    std::vector<ShapeFigures> figures;
    for (const auto& [dOut, dIn] : shapes)
        figures.push_back(benchShape(dOut, dIn, opt));
    std::printf("\n%-12s %8s %10s %10s %8s %8s %16s %16s\n", "layer", "basis s", "reused s",
                "+shared C", "alone s", "old s", "reused / basis", "old / basis");
    for (const ShapeFigures& f : figures)
        std::printf("%-12s %8.2f %10.2f %10.2f %8.2f %8.2f %16.2f %16.2f\n", f.name.c_str(),
                    f.basis, f.reused, f.shared, f.alone, f.old, f.reused / f.basis,
                    f.old / f.basis);
    std::printf("\ntotal %.1f s (load %s)\n", secondsSince(total), loadAverage().c_str());
    return 0;
}
