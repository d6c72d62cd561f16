#include "pipeline/experiment_compare.h"

#include "store/experiment_store.h"
#include "util/argument_error.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>

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

bool SettingRow::differs() const {
    return std::adjacent_find(values.begin(), values.end(), std::not_equal_to<>()) != values.end();
}

std::optional<double> MetricRow::perplexityChange(size_t experiment, size_t baseline) const {
    if (experiment >= perplexity.size() || baseline >= perplexity.size() ||
        !perplexity[experiment] || !perplexity[baseline])
        return std::nullopt;
    return *perplexity[experiment] - *perplexity[baseline];
}

namespace {

std::vector<ExperimentRecord> requireExperiments(const ExperimentStore& store,
                                                 const std::vector<int64_t>& ids) {
    const std::string where = store.path().string();
    if (ids.size() < 2)
        failArgument(where, "a comparison needs at least two experiments, got " +
                                std::to_string(ids.size()));
    std::vector<ExperimentRecord> out;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (std::find(ids.begin(), ids.begin() + long(i), ids[i]) != ids.begin() + long(i))
            failArgument(where, "experiment " + std::to_string(ids[i]) + " is listed twice");
        auto e = store.experiment(ids[i]);
        if (!e)
            failArgument(where, "no experiment " + std::to_string(ids[i]));
        out.push_back(std::move(*e));
    }
    return out;
}

std::vector<SettingRow> definingSettings(const ExperimentStore& store,
                                         const std::vector<ExperimentRecord>& es) {
    const auto modelText = [&](const ExperimentRecord& e) {
        const auto m = store.model(e.modelId);
        return m ? fileName(m->path) + " " + m->contentHash.substr(0, 8) : std::string("?");
    };
    const auto datasetText = [&](std::optional<int64_t> id) {
        const auto d = id ? store.dataset(*id) : std::nullopt;
        return d ? fileName(d->path) + " " + d->contentHash.substr(0, 8) : std::string("-");
    };
    const auto tokens = [](int64_t n) { return n > 0 ? std::to_string(n) : std::string("all"); };
    const std::vector<std::pair<std::string, std::function<std::string(const ExperimentRecord&)>>>
        keys = {
            {"name", [](const ExperimentRecord& e) { return e.name; }},
            {"status", [](const ExperimentRecord& e) { return statusName(e.status); }},
            {"model", modelText},
            {"calibration text",
             [&](const ExperimentRecord& e) { return datasetText(e.calibDatasetId); }},
            {"calibration mode", [](const ExperimentRecord& e) { return e.calibMode; }},
            {"calibration tokens",
             [&](const ExperimentRecord& e) { return tokens(e.calibTokens); }},
            {"compression", [](const ExperimentRecord& e) { return e.compression; }},
            {"compensation", [](const ExperimentRecord& e) { return join(e.compensations, ","); }},
            {"ranks", [](const ExperimentRecord& e) { return e.rankPlan; }},
            {"evaluation text",
             [&](const ExperimentRecord& e) { return datasetText(e.evalDatasetId); }},
        };
    std::vector<SettingRow> rows;
    for (const auto& [key, text] : keys) {
        SettingRow row{key, {}};
        for (const ExperimentRecord& e : es)
            row.values.push_back(text(e));
        rows.push_back(std::move(row));
    }
    return rows;
}

std::vector<SettingRow> costRows(const std::vector<ExperimentRecord>& es) {
    std::vector<SettingRow> rows;
    SettingRow statistics{"statistics", {}};
    for (const ExperimentRecord& e : es)
        statistics.values.push_back(e.calibrationReused ? "reused" : "computed");
    rows.push_back(std::move(statistics));
    for (const std::string stage : {"calibrate", "compress", "evaluate"}) {
        SettingRow row{stage + " time", {}};
        for (const ExperimentRecord& e : es)
            row.values.push_back(stageTime(e, stage));
        rows.push_back(std::move(row));
    }
    return rows;
}

} // namespace

ExperimentComparison compareExperiments(const ExperimentStore& store,
                                        const std::vector<int64_t>& ids) {
    const std::vector<ExperimentRecord> es = requireExperiments(store, ids);
    ExperimentComparison out;
    out.ids = ids;
    out.settings = definingSettings(store, es);
    out.costs = costRows(es);

    std::vector<std::map<std::string, double>> perplexities, errors;
    for (const int64_t id : ids) {
        perplexities.push_back(experimentPerplexities(store, id));
        errors.push_back(experimentMeanErrors(store, id));
    }
    std::vector<std::string> labels;
    const auto addLabel = [&labels](const std::string& label) {
        if (std::find(labels.begin(), labels.end(), label) == labels.end())
            labels.push_back(label);
    };
    if (std::any_of(perplexities.begin(), perplexities.end(),
                    [](const auto& p) { return p.count("original") > 0; }))
        addLabel("original");
    for (const int64_t id : ids)
        for (const VariantRecord& v : store.variants(id))
            addLabel(v.label);
    for (const std::string& label : labels) {
        MetricRow row{label, {}, {}};
        for (size_t i = 0; i < ids.size(); ++i) {
            row.perplexity.push_back(lookup(perplexities[i], label));
            row.meanError.push_back(lookup(errors[i], label));
        }
        out.metrics.push_back(std::move(row));
    }
    return out;
}

} // namespace rs
