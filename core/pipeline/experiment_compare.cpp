#include "pipeline/experiment_compare.h"

#include "store/experiment_store.h"
#include "util/argument_error.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace rs {

namespace {

std::string fileName(const std::string& path) {
    const std::filesystem::path p(path);
    return p.filename().empty() ? path : p.filename().string();
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (const std::string& p : parts)
        out += (out.empty() ? "" : separator) + p;
    return out;
}

std::string stageTime(const ExperimentRecord& e, const std::string& name) {
    for (const auto& [stage, seconds] : e.stageSeconds)
        if (stage == name) {
            char buffer[32];
            std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
            return buffer;
        }
    return "-";
}

std::optional<double> lookup(const std::map<std::string, double>& values, const std::string& key) {
    const auto it = values.find(key);
    return it == values.end() ? std::nullopt : std::optional<double>(it->second);
}

} // namespace

std::map<std::string, double> experimentPerplexities(const ExperimentStore& store, int64_t id) {
    const std::vector<VariantRecord> variants = store.variants(id);
    std::map<std::string, double> out;
    for (const EvaluationRecord& e : store.evaluations(id)) {
        if (!e.variant)
            out["original"] = e.perplexity;
        else if (*e.variant >= 0 && size_t(*e.variant) < variants.size())
            out[variants[*e.variant].label] = e.perplexity;
    }
    return out;
}

std::map<std::string, double> experimentMeanErrors(const ExperimentStore& store, int64_t id) {
    const std::vector<VariantRecord> variants = store.variants(id);
    const std::vector<LayerRecord> layers = store.layers(id, false);
    std::map<std::string, double> out;
    if (layers.empty())
        return out;
    for (const VariantRecord& v : variants) {
        double sum = 0;
        for (const LayerRecord& l : layers)
            if (size_t(v.index) < l.errorAfter.size())
                sum += l.errorAfter[v.index];
        out[v.label] = sum / static_cast<double>(layers.size());
    }
    return out;
}

ExperimentComparison compareExperiments(const ExperimentStore& store, int64_t idA, int64_t idB) {
    const auto require = [&store](int64_t id) {
        auto e = store.experiment(id);
        if (!e)
            failArgument(store.path().string(), "no experiment " + std::to_string(id));
        return *e;
    };
    const ExperimentRecord a = require(idA);
    const ExperimentRecord b = require(idB);
    ExperimentComparison out;
    out.a = idA;
    out.b = idB;
    const auto row = [&out](std::string key, std::string x, std::string y) {
        out.settings.push_back({std::move(key), std::move(x), std::move(y)});
    };
    const auto modelText = [&](const ExperimentRecord& e) {
        const auto m = store.model(e.modelId);
        return m ? fileName(m->path) + " " + m->contentHash.substr(0, 8) : std::string("?");
    };
    const auto datasetText = [&](std::optional<int64_t> id) {
        const auto d = id ? store.dataset(*id) : std::nullopt;
        return d ? fileName(d->path) + " " + d->contentHash.substr(0, 8) : std::string("-");
    };
    const auto tokens = [](int64_t n) { return n > 0 ? std::to_string(n) : std::string("all"); };
    const auto reused = [](const ExperimentRecord& e) {
        return std::string(e.calibrationReused ? "reused" : "computed");
    };
    row("name", a.name, b.name);
    row("status", statusName(a.status), statusName(b.status));
    row("model", modelText(a), modelText(b));
    row("calibration text", datasetText(a.calibDatasetId), datasetText(b.calibDatasetId));
    row("calibration mode", a.calibMode, b.calibMode);
    row("calibration tokens", tokens(a.calibTokens), tokens(b.calibTokens));
    row("statistics", reused(a), reused(b));
    row("compression", a.compression, b.compression);
    row("compensation", join(a.compensations, ","), join(b.compensations, ","));
    row("ranks", a.rankPlan, b.rankPlan);
    row("evaluation text", datasetText(a.evalDatasetId), datasetText(b.evalDatasetId));
    for (const std::string stage : {"calibrate", "compress", "evaluate"})
        row(stage + " time", stageTime(a, stage), stageTime(b, stage));

    const auto pa = experimentPerplexities(store, idA), pb = experimentPerplexities(store, idB);
    const auto ea = experimentMeanErrors(store, idA), eb = experimentMeanErrors(store, idB);
    std::vector<std::string> labels;
    const auto addLabel = [&labels](const std::string& label) {
        if (std::find(labels.begin(), labels.end(), label) == labels.end())
            labels.push_back(label);
    };
    if (pa.count("original") || pb.count("original"))
        addLabel("original");
    for (const int64_t id : {idA, idB})
        for (const VariantRecord& v : store.variants(id))
            addLabel(v.label);
    for (const std::string& label : labels)
        out.metrics.push_back(
            {label, lookup(pa, label), lookup(pb, label), lookup(ea, label), lookup(eb, label)});
    return out;
}

} // namespace rs
