#include "store/artefact_cache.h"
#include "store/experiment_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sys/stat.h>
#include <unordered_map>

namespace rs {

namespace {

// Seconds since the epoch of a UTC timestamp "YYYY-MM-DDTHH:MM:SS[.fff][Z]" (a space instead of
// the 'T' too, as SQLite writes it); nothing when the text is not one.
std::optional<int64_t> parseUtc(const std::string& text) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    char separator = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &year, &month, &day, &separator,
                    &hour, &minute, &second) != 7 ||
        (separator != 'T' && separator != ' '))
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return static_cast<int64_t>(::timegm(&tm));
}

int64_t modificationTime(const std::filesystem::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

struct Candidate {
    std::string key;
    uint64_t bytes = 0;
    int64_t lastUsed = 0; // seconds since the epoch
};

} // namespace

PruneReport pruneCache(ExperimentStore& store, ArtefactCache& cache, const PruneOptions& options) {
    PruneReport report;
    std::unordered_map<std::string, ArtefactRecord> rows;
    for (ArtefactRecord& row : store.artefacts())
        rows.emplace(row.key, std::move(row));

    std::vector<std::string> doomed;
    const auto drop = [&](const std::string& key, uint64_t bytes) {
        doomed.push_back(key);
        report.freedBytes += bytes;
    };

    std::vector<Candidate> candidates;
    const std::vector<std::string> present = cache.keys(); // sorted
    for (const std::string& key : present) {
        const uint64_t bytes = cache.bytesOf(key);
        if (!cache.complete(key)) {
            if (cache.beingWritten(key)) {
                report.keptBytes += bytes; // a job is writing it right now
                continue;
            }
            ++report.incompleteRemoved;
            drop(key, bytes);
            continue;
        }
        const auto row = rows.find(key);
        if (row == rows.end()) {
            ++report.orphansRemoved;
            drop(key, bytes);
            continue;
        }
        Candidate c{key, bytes, 0};
        if (auto t = parseUtc(row->second.lastUsed))
            c.lastUsed = *t;
        else if (auto created = parseUtc(row->second.created))
            c.lastUsed = *created;
        else
            c.lastUsed = modificationTime(cache.pathOf(key) / "manifest.json");
        candidates.push_back(std::move(c));
    }

    // Least recently used first, so that the size limit drops the oldest.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.lastUsed != b.lastUsed ? a.lastUsed < b.lastUsed : a.key < b.key;
    });
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::vector<Candidate> kept;
    for (const Candidate& c : candidates) {
        const bool old = options.olderThanDays && c.lastUsed < now - *options.olderThanDays * 86400;
        if (options.all || old)
            drop(c.key, c.bytes);
        else
            kept.push_back(c);
    }
    for (const Candidate& c : kept)
        report.keptBytes += c.bytes;
    if (options.maxBytes) {
        for (const Candidate& c : kept) {
            if (report.keptBytes <= *options.maxBytes)
                break;
            drop(c.key, c.bytes);
            report.keptBytes -= c.bytes;
        }
    }

    // Rows of artefacts whose directory is gone reference nothing any more.
    for (const auto& [key, row] : rows) {
        if (!std::binary_search(present.begin(), present.end(), key))
            doomed.push_back(key);
    }

    report.removed = doomed;
    if (options.dryRun)
        return report;
    for (const std::string& key : doomed) {
        if (std::binary_search(present.begin(), present.end(), key))
            cache.remove(key);
        if (const auto row = rows.find(key); row != rows.end())
            store.removeArtefact(row->second.id);
    }
    return report;
}

} // namespace rs
