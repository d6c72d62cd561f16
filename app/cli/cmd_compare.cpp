// experiments compare: any number of stored experiments side by side, as a table or as JSON.
#include "commands.h"
#include "pipeline/experiment_compare.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace rs::cli {

namespace {

using nlohmann::json;

std::string cell(const std::optional<double>& value, const char* format) {
    char buffer[32] = "-";
    if (value)
        std::snprintf(buffer, sizeof buffer, format, *value);
    return buffer;
}

json optionalJson(const std::optional<double>& value) {
    return value ? json(*value) : json(nullptr);
}

// Each experiment's column is as wide as its widest value, between 12 and kMaxColumn characters;
// longer values are cut there (--json has them whole).
constexpr int kMaxColumn = 48;

std::string columnTitle(const ExperimentComparison& c, size_t i) {
    return "experiment " + std::to_string(c.ids[i]) + (i == 0 ? " (baseline)" : "");
}

std::vector<int> columnWidths(const ExperimentComparison& c) {
    std::vector<int> widths;
    for (size_t i = 0; i < c.ids.size(); ++i)
        widths.push_back(std::max(12, int(columnTitle(c, i).size())));
    for (const auto* rows : {&c.settings, &c.costs})
        for (const SettingRow& row : *rows)
            for (size_t i = 0; i < row.values.size(); ++i)
                widths[i] = std::clamp(int(row.values[i].size()), widths[i], kMaxColumn);
    return widths;
}

// Cut at a character boundary: names may be UTF-8.
std::string fitted(const std::string& value, int width) {
    if (int(value.size()) <= width)
        return value;
    size_t end = size_t(width) - 3;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80)
        --end;
    return value.substr(0, end) + "...";
}

void printSettings(const char* title, const std::vector<SettingRow>& rows,
                   const std::vector<int>& widths) {
    std::printf("%s\n", title);
    for (const SettingRow& row : rows) {
        std::printf("%s %-20s", row.differs() ? "*" : " ", row.key.c_str());
        for (size_t i = 0; i < row.values.size(); ++i)
            std::printf(" %-*s", widths[i], fitted(row.values[i], widths[i]).c_str());
        std::printf("\n");
    }
}

void printMetrics(const ExperimentComparison& c) {
    const size_t n = c.ids.size();
    std::printf("\n%-22s", "variant");
    for (size_t i = 0; i < n; ++i)
        std::printf(" %12s", ("ppl " + std::to_string(c.ids[i])).c_str());
    for (size_t i = 1; i < n; ++i)
        std::printf(" %12s", ("d " + std::to_string(c.ids[i])).c_str());
    for (size_t i = 0; i < n; ++i)
        std::printf(" %12s", ("err " + std::to_string(c.ids[i])).c_str());
    std::printf("\n");
    for (const MetricRow& m : c.metrics) {
        std::printf("%-22s", m.label.c_str());
        for (size_t i = 0; i < n; ++i)
            std::printf(" %12s", cell(m.perplexity[i], "%.4f").c_str());
        for (size_t i = 1; i < n; ++i)
            std::printf(" %12s", cell(m.perplexityChange(i, 0), "%+.4f").c_str());
        for (size_t i = 0; i < n; ++i)
            std::printf(" %12s", cell(m.meanError[i], "%.5f").c_str());
        std::printf("\n");
    }
}

json settingsJson(const std::vector<SettingRow>& rows) {
    json out = json::array();
    for (const SettingRow& row : rows)
        out.push_back({{"key", row.key}, {"values", row.values}, {"differs", row.differs()}});
    return out;
}

json comparisonJson(const ExperimentComparison& c) {
    json metrics = json::array();
    for (const MetricRow& m : c.metrics) {
        json ppl = json::array(), change = json::array(), error = json::array();
        for (size_t i = 0; i < c.ids.size(); ++i) {
            ppl.push_back(optionalJson(m.perplexity[i]));
            change.push_back(optionalJson(m.perplexityChange(i, 0)));
            error.push_back(optionalJson(m.meanError[i]));
        }
        metrics.push_back({{"label", m.label},
                           {"perplexity", ppl},
                           {"perplexity_change", change},
                           {"mean_error", error}});
    }
    return {{"experiments", c.ids},
            {"baseline", c.ids.front()},
            {"settings", settingsJson(c.settings)},
            {"costs", settingsJson(c.costs)},
            {"metrics", metrics}};
}

int runCompare(const ParsedArgs& args, const JobContext&) {
    std::vector<int64_t> ids;
    for (size_t i = 0; i < args.positionalCount(); ++i)
        ids.push_back(experimentId(args.positional(i)));
    const auto store = openRecordedStore(args);
    const ExperimentComparison c = compareExperiments(*store, ids);
    if (args.flag("--json")) {
        std::printf("%s\n", comparisonJson(c).dump(2).c_str());
        return kExitOk;
    }
    const std::vector<int> widths = columnWidths(c);
    std::printf("%-22s", "");
    for (size_t i = 0; i < c.ids.size(); ++i)
        std::printf(" %-*s", widths[i], columnTitle(c, i).c_str());
    std::printf("\n");
    printSettings("settings (* where they differ)", c.settings, widths);
    printSettings("\ncost", c.costs, widths);
    printMetrics(c);
    std::printf("\nd N = perplexity of N minus the baseline's: negative is better.\n");
    return kExitOk;
}

} // namespace

Command compareCommand() {
    return {{"experiments compare",
             "ID ID... [--json]",
             "Experiments side by side: the settings that differ (marked *), what each cost\n"
             "(stage times, reused statistics) and every variant's perplexity and mean error.\n"
             "The first ID is the baseline: changes are each experiment's minus its.",
             {"ID", "ID..."},
             {{"--json", "", "print JSON"}, kDb}},
            runCompare};
}

} // namespace rs::cli
