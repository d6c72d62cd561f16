#pragma once

// Sample records and file checks shared by the experiment store's tests (tst_store*.cpp).

#include "store/database.h"
#include "store/experiment_store.h"

#include <QTemporaryDir>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace rs::test {

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

inline std::filesystem::path pathIn(const QTemporaryDir& dir, const char* name) {
    return std::filesystem::path(dir.path().toStdString()) / name;
}

// A file's bytes and modification time: "never modified" means both are unchanged.
struct FileState {
    std::string bytes;
    std::filesystem::file_time_type mtime;
    bool operator==(const FileState&) const = default;
};

inline FileState stateOf(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::string(std::istreambuf_iterator<char>(in), {}),
            std::filesystem::last_write_time(file)};
}

inline int64_t queryInteger(store::Database& db, const std::string& sql) {
    auto s = db.prepare(sql);
    return s.step() ? s.integer(0) : -1;
}

inline std::string integrityCheck(const std::filesystem::path& file) {
    store::Database db(file, store::Database::Mode::ReadOnly, 1000);
    auto s = db.prepare("PRAGMA integrity_check");
    s.step();
    return s.text(0);
}

inline rs::ModelRecord sampleModel(const std::string& path = "/models/alpha",
                                   const std::string& hash = "aa11bb22cc33") {
    return {0, path, hash, "llama", 2, 64, 172, 4, 2, 512, 260032};
}

inline rs::ExperimentRecord sampleExperiment(int64_t model, std::optional<int64_t> calib = {}) {
    rs::ExperimentRecord e;
    e.name = "first try";
    e.notes = "3-bit";
    e.modelId = model;
    e.calibDatasetId = calib;
    e.calibMode = "parallel";
    e.calibTokens = 8192;
    e.calibSeqLen = 512;
    e.compression = "rtn:bits=3,group=32";
    e.compensations = {"none", "svd", "eora:factor_bits=4"};
    e.rankPlan = R"({"ranks":[4,8]})";
    e.request = R"({"method":"rtn:bits=3,group=32","ranks":[4,8]})";
    return e;
}

// Layer k with random values; curves of `length` entries, spectra of length - 1.
inline rs::LayerRecord sampleLayer(int k, int length, bool analysis = true) {
    std::mt19937 random(static_cast<unsigned>(k + 1));
    std::uniform_real_distribution<double> uniform(1e-3, 10.0);
    const auto series = [&](int n) {
        std::vector<double> v(static_cast<size_t>(n));
        for (double& x : v)
            x = uniform(random);
        return v;
    };
    rs::LayerRecord l;
    l.name = "model.layers." + std::to_string(k / 7) + ".proj" + std::to_string(k % 7);
    l.block = k / 7;
    l.kind = "proj" + std::to_string(k % 7);
    l.outFeatures = length - 1;
    l.inFeatures = 2 * (length - 1);
    l.sparsity = 0.5;
    l.discardedModes = k;
    l.outputEnergy = uniform(random);
    l.errorEnergy = uniform(random);
    l.heldoutOutputEnergy = uniform(random);
    l.heldoutErrorEnergy = uniform(random);
    l.ranks = {4, 8, 16};
    l.errorAfter = series(3);
    l.heldoutErrorAfter = series(3);
    if (analysis) {
        l.curveSvd = series(length);
        l.curveEora = series(length);
        l.gramEigenvalues = series(length - 1);
        l.weightSingular = series(length - 1);
        l.errorSingular = series(length - 1);
        l.scaledErrorSingular = series(length - 1);
    }
    return l;
}

inline std::vector<double> asFloat32(const std::vector<double>& values) {
    std::vector<double> out;
    for (const double v : values)
        out.push_back(static_cast<float>(v));
    return out;
}

// Curves are stored exactly (float64), spectra as float32.
inline bool sameLayer(const rs::LayerRecord& a, const rs::LayerRecord& b, bool analysis) {
    const bool base = a.name == b.name && a.block == b.block && a.kind == b.kind &&
                      a.outFeatures == b.outFeatures && a.inFeatures == b.inFeatures &&
                      a.sparsity == b.sparsity && a.discardedModes == b.discardedModes &&
                      a.outputEnergy == b.outputEnergy && a.errorEnergy == b.errorEnergy &&
                      a.heldoutOutputEnergy == b.heldoutOutputEnergy &&
                      a.heldoutErrorEnergy == b.heldoutErrorEnergy && a.ranks == b.ranks &&
                      a.errorAfter == b.errorAfter && a.heldoutErrorAfter == b.heldoutErrorAfter;
    if (!analysis)
        return base && b.curveSvd.empty() && b.gramEigenvalues.empty();
    return base && a.curveSvd == b.curveSvd && a.curveEora == b.curveEora &&
           asFloat32(a.gramEigenvalues) == b.gramEigenvalues &&
           asFloat32(a.weightSingular) == b.weightSingular &&
           asFloat32(a.errorSingular) == b.errorSingular &&
           asFloat32(a.scaledErrorSingular) == b.scaledErrorSingular;
}

inline rs::EvaluationRecord evaluation(std::optional<int> variant, double perplexity) {
    rs::EvaluationRecord e;
    e.variant = variant;
    e.protocol = "tinystories";
    e.seqLen = 512;
    e.tokens = 47616;
    e.perplexity = perplexity;
    e.seconds = 1.25;
    return e;
}

// One finished experiment with two variants, `layers` layers and evaluations.
inline int64_t completeExperiment(ExperimentStore& store, int64_t model, int layers,
                                  int length = 33) {
    auto record = sampleExperiment(model);
    const int64_t id = store.beginExperiment(record);
    store.addVariants(id, {{0, "svd", 4, "svd@4", 1000}, {1, "eora", 8, "eora@8", 2000}});
    std::vector<rs::LayerRecord> batch;
    for (int k = 0; k < layers; ++k)
        batch.push_back(sampleLayer(k, length));
    store.addLayers(id, batch);
    store.addEvaluation(id, evaluation(std::nullopt, 3.6));
    store.addEvaluation(id, evaluation(0, 4.5));
    store.addEvaluation(id, evaluation(1, 4.1));
    store.finishExperiment(id, ExperimentStatus::Done, {{"compress", 2.0}});
    return id;
}

} // namespace rs::test
