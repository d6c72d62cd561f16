#include "util/memory.h"

#include "util/error.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

namespace rs {

bool MemoryBudget::claim(int64_t size) {
    int64_t now = carriedBytes.load();
    do {
        if (bytes > 0 && now + size > bytes)
            return false;
    } while (!carriedBytes.compare_exchange_weak(now, now + size));
    return true;
}

int64_t physicalMemoryBytes() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
}

int64_t resolveMemoryBudget(int64_t requested) {
    if (requested > 0)
        return requested;
    return std::max<int64_t>(physicalMemoryBytes() / 2, 1LL << 30);
}

namespace {

// A "<field>: <n> kB" line of /proc/self/status, in bytes; 0 where it cannot be read.
int64_t statusBytes(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stoll(line.substr(field.size() + 1)) * 1024;
    return 0;
}

} // namespace

int64_t peakResidentBytes() {
    return statusBytes("VmHWM");
}

int64_t anonymousResidentBytes() {
    return statusBytes("RssAnon");
}

void returnFreedHeap() {
#if defined(__GLIBC__)
    ::malloc_trim(0);
#endif
}

int64_t parseByteSize(const std::string& text, const std::string& what) {
    const auto bad = [&]() -> int64_t {
        fail(what, "'" + text + "' is not a size (use e.g. 2G, 800M or a number of bytes)");
    };
    size_t end = 0;
    double value = 0;
    try {
        value = std::stod(text, &end);
    } catch (const std::exception&) {
        return bad();
    }
    std::string unit = text.substr(end);
    for (const char* suffix : {"iB", "B"})
        if (unit.size() > std::string(suffix).size() - 1 && unit.ends_with(suffix) &&
            unit != suffix) {
            unit.resize(unit.size() - std::string(suffix).size());
            break;
        }
    double scale = 1;
    if (unit == "" || unit == "B")
        scale = 1;
    else if (unit == "k" || unit == "K")
        scale = 1024.0;
    else if (unit == "M" || unit == "m")
        scale = 1024.0 * 1024;
    else if (unit == "G" || unit == "g")
        scale = 1024.0 * 1024 * 1024;
    else if (unit == "T" || unit == "t")
        scale = 1024.0 * 1024 * 1024 * 1024;
    else
        return bad();
    const double bytes = value * scale;
    if (!std::isfinite(bytes) || bytes < 1 || bytes > 9e18)
        fail(what, "'" + text + "' is not a usable size (it must be positive)");
    return static_cast<int64_t>(bytes);
}

} // namespace rs
