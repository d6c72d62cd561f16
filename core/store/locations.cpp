#include "store/experiment_store.h"
#include "util/memory.h"

#include <cstdlib>

namespace rs {

namespace {

// An unset and an empty variable mean the same: "use the default".
const char* envValue(const char* name) {
    const char* value = std::getenv(name);
    return value && *value ? value : nullptr;
}

std::filesystem::path home() {
    const char* value = envValue("HOME");
    return value ? std::filesystem::path(value) : std::filesystem::path(".");
}

// The XDG base directory, when its variable holds an absolute path (the specification says to
// ignore relative ones), else the fallback under $HOME.
std::filesystem::path xdgDirectory(const char* variable, const char* fallback) {
    if (const char* value = envValue(variable)) {
        const std::filesystem::path dir(value);
        if (dir.is_absolute())
            return dir;
    }
    return home() / fallback;
}

} // namespace

std::filesystem::path defaultDatabasePath() {
    if (const char* db = envValue("RANKSCOPE_DB"))
        return db;
    return xdgDirectory("XDG_DATA_HOME", ".local/share") / "rankscope" / "rankscope.db";
}

std::filesystem::path defaultCacheDirectory() {
    if (const char* cache = envValue("RANKSCOPE_CACHE"))
        return cache;
    return xdgDirectory("XDG_CACHE_HOME", ".cache") / "rankscope";
}

uint64_t defaultCacheCap() {
    if (const char* cap = envValue("RANKSCOPE_CACHE_MAX_SIZE"))
        return uint64_t(parseByteSize(cap, "RANKSCOPE_CACHE_MAX_SIZE"));
    return uint64_t(64) << 30;
}

const char* rankscopeVersion() {
    return RANKSCOPE_VERSION;
}

} // namespace rs
