// How the experiment store maps records to rows and back: timestamps, NULLs, series blobs and the
// JSON columns.
#include "store/experiment_store_impl.h"
#include "util/error.h"

#include <charconv>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

namespace rs::store {

namespace {

nlohmann::json parseJson(const std::string& text, const std::string& context) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_discarded())
        fail(context, "is not valid JSON");
    return value;
}

// Fast paths for the JSON this file writes (nlohmann's compact dump of plain strings and
// numbers): a general parser took most of the time of listing thousands of experiments. Anything
// else (escapes, spaces) returns false and goes through nlohmann.
bool readQuoted(std::string_view& in, std::string& out) {
    if (in.empty() || in[0] != '"')
        return false;
    const size_t end = in.find_first_of("\\\"", 1);
    if (end == std::string_view::npos || in[end] != '"')
        return false;
    out.assign(in.substr(1, end - 1));
    in.remove_prefix(end + 1);
    return true;
}

bool readChar(std::string_view& in, char c) {
    if (in.empty() || in[0] != c)
        return false;
    in.remove_prefix(1);
    return true;
}

// `item` reads one element; the array is "[]" or "[e,e,...]".
template <typename ReadItem> bool readArray(std::string_view in, ReadItem item) {
    if (!readChar(in, '['))
        return false;
    if (readChar(in, ']'))
        return in.empty();
    do {
        if (!item(in))
            return false;
    } while (readChar(in, ','));
    return readChar(in, ']') && in.empty();
}

// Names a column of an experiment in error messages; the text is built only when one is raised.
struct Column {
    const std::string& db;
    int64_t experiment;
    const char* what;
    std::string operator()() const {
        return db + ": experiment " + std::to_string(experiment) + " " + what;
    }
};

std::vector<std::string> parseStrings(const std::string& text, const Column& context) {
    std::vector<std::string> out;
    if (readArray(text, [&](std::string_view& in) { return readQuoted(in, out.emplace_back()); }))
        return out;
    out.clear();
    try {
        for (const auto& item : parseJson(text, context()))
            out.push_back(item.get<std::string>());
    } catch (const nlohmann::json::exception& e) {
        fail(context(), e.what());
    }
    return out;
}

std::vector<std::pair<std::string, double>> parseStages(const std::string& text,
                                                        const Column& context) {
    std::vector<std::pair<std::string, double>> out;
    const bool fast = readArray(text, [&](std::string_view& in) {
        auto& [name, seconds] = out.emplace_back();
        if (!readChar(in, '[') || !readQuoted(in, name) || !readChar(in, ','))
            return false;
        const auto [end, error] = std::from_chars(in.data(), in.data() + in.size(), seconds);
        if (error != std::errc())
            return false;
        in.remove_prefix(static_cast<size_t>(end - in.data()));
        return readChar(in, ']');
    });
    if (fast)
        return out;
    out.clear();
    try {
        for (const auto& stage : parseJson(text, context())) {
            const auto& seconds = stage.at(1); // JSON has no NaN: nlohmann writes null
            out.emplace_back(stage.at(0).get<std::string>(),
                             seconds.is_number() ? seconds.get<double>()
                                                 : std::numeric_limits<double>::quiet_NaN());
        }
    } catch (const nlohmann::json::exception& e) {
        fail(context(), e.what());
    }
    return out;
}

} // namespace

std::string nowUtc() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// SQLite stores NaN as NULL; read it back as NaN.
double realOrNan(const Statement& s, int column) {
    return s.isNull(column) ? std::numeric_limits<double>::quiet_NaN() : s.real(column);
}

std::optional<int64_t> optionalInteger(const Statement& s, int column) {
    return s.isNull(column) ? std::nullopt : std::optional<int64_t>(s.integer(column));
}

std::optional<int64_t> widen(std::optional<int> value) {
    return value ? std::optional<int64_t>(*value) : std::nullopt;
}

std::string optionalText(const Statement& s, int column) {
    return s.isNull(column) ? std::string() : s.text(column);
}

void bindSeries(Statement& s, int index, const std::vector<double>& values, BlobType type) {
    if (values.empty())
        s.bindNull(index);
    else
        s.bindBlob(index, store::encodeSeries(values, type));
}

std::vector<double> readSeries(const Statement& s, int column, const std::string& context) {
    if (s.isNull(column))
        return {};
    const auto bytes = s.blob(column);
    return store::decodeSeries(bytes.data(), bytes.size(), context);
}

std::vector<int64_t> parseIntegers(const std::string& text, const std::string& context) {
    try {
        return parseJson(text, context).get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception& e) {
        fail(context, e.what());
    }
}

ExperimentRecord readExperiment(const Statement& s, const std::string& db) {
    ExperimentRecord e;
    e.id = s.integer(0);
    e.name = s.text(1);
    e.notes = s.text(2);
    e.modelId = s.integer(3);
    e.calibDatasetId = optionalInteger(s, 4);
    e.evalDatasetId = optionalInteger(s, 5);
    e.calibMode = s.text(6);
    e.calibTokens = s.integer(7);
    e.calibSeqLen = s.integer(8);
    e.compression = s.text(9);
    e.compensations = parseStrings(s.text(10), {db, e.id, "compensations"});
    e.rankPlan = s.text(11);
    e.request = s.text(12);
    const auto status = parseStatus(s.text(13));
    if (!status)
        fail(Column{db, e.id, "status"}(), "unknown value '" + s.text(13) + "'");
    e.status = *status;
    e.error = s.text(14);
    e.stageSeconds = parseStages(s.text(15), {db, e.id, "stage timings"});
    e.version = s.text(16);
    e.created = s.text(17);
    e.finished = optionalText(s, 18);
    e.calibrationArtefact = optionalInteger(s, 19);
    e.calibrationReused = s.integer(20) != 0;
    const auto kind = parseExperimentKind(s.text(21));
    if (!kind)
        fail(Column{db, e.id, "kind"}(), "unknown value '" + s.text(21) + "'");
    e.kind = *kind;
    e.modelFiles = s.text(22);
    return e;
}

std::string stagesJson(const std::vector<std::pair<std::string, double>>& stages) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, seconds] : stages)
        out.push_back({name, seconds});
    return out.dump();
}

ArtefactRecord readArtefact(const Statement& s) {
    return {s.integer(0), s.text(1), s.text(2), s.text(3), s.integer(4), s.text(5), s.text(6)};
}

} // namespace rs::store
