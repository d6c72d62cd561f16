#pragma once

// The setting shared by the export tests (tst_export_*.cpp): a store, an artefact cache and a
// stories260K session in a temporary directory, experiments recorded there and exported, and small
// readers of what an export wrote.

#include "export/export_job.h"
#include "pipeline/compress_job.h"
#include "pipeline/experiment_recorder.h"
#include "pipeline/session.h"
#include "store/artefact_cache.h"
#include "store/experiment_store.h"
#include "testdata.h"
#include "util/text.h"

// ATen before Qt, whose `slots` macro breaks ATen's headers.
#include <ATen/ATen.h>
#include <QTemporaryDir>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace rs::test {

// A float32 export read back scores the in-memory perplexity within 0.1 %.
constexpr double kFloat32Agreement = 1e-3;
constexpr int64_t kRank = 8;
constexpr int64_t kLinears = 35; // 5 blocks x 7 linears

inline std::string linear(int64_t layer, const std::string& kind) {
    const bool mlp = kind == "gate_proj" || kind == "up_proj" || kind == "down_proj";
    return "model.layers." + std::to_string(layer) + (mlp ? ".mlp." : ".self_attn.") + kind;
}

inline nlohmann::json readJson(const std::filesystem::path& path) {
    return nlohmann::json::parse(rs::readTextFile(path));
}

inline double relative(double a, double b) {
    return std::abs(a - b) / b;
}

// Base of the export test classes: everything lives under m_root, exports under m_root / "out".
class ExportFixture {
protected:
    // Opens the store, the cache and the stories260K session and records m_rtn4; false when no
    // temporary directory could be made.
    bool openFixture() {
        m_dir = std::make_unique<QTemporaryDir>();
        if (!m_dir->isValid())
            return false;
        m_root = m_dir->path().toStdString();
        std::filesystem::create_directories(m_root / "out");
        m_store = rs::ExperimentStore::open(m_root / "db" / "rankscope.db");
        m_cache = std::make_unique<rs::ArtefactCache>(m_root / "cache");
        m_session = rs::ModelSession::open(rs::test::stories260K());
        m_rtn4 = record("rtn:bits=4,group=32");
        return true;
    }

    // Records a compression of stories260K with `method`, EoRA at rank kRank, evaluated.
    int64_t record(const std::string& method) {
        rs::CompressRequest r;
        r.inputs.calibText = rs::test::dataPath("text/tinystories/calib.txt");
        r.inputs.calibTokens = 4096;
        r.compression = rs::MethodConfig::parse(method, rs::MethodKind::Compression);
        r.compensations = {rs::MethodConfig::parse("eora", rs::MethodKind::Compensation)};
        r.ranks = {kRank};
        r.inputs.evalText = rs::test::dataPath("text/tinystories/eval.txt");
        r.inputs.eval.maxWindows = 8;
        r.heldoutTokens = 0;
        r.inputs.analyze = false;
        return rs::runRecordedCompression(*m_session, r, *m_store, *m_cache).experimentId;
    }

    rs::ExportResult exportTo(int64_t experiment, rs::ExportFormat format, const std::string& name,
                              const std::string& dtype = "float32") {
        rs::ExportRequest request;
        request.experimentId = experiment;
        request.format = format;
        request.dtype = dtype;
        request.outDir = m_root / "out" / name;
        return rs::exportExperiment(*m_store, request);
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::filesystem::path m_root;
    std::unique_ptr<rs::ExperimentStore> m_store;
    std::unique_ptr<rs::ArtefactCache> m_cache;
    std::shared_ptr<rs::ModelSession> m_session;
    int64_t m_rtn4 = 0; // rtn:bits=4,group=32
    int64_t m_rtn8 = 0; // rtn:bits=8,group=-1, recorded by the programs that export it
};

} // namespace rs::test
