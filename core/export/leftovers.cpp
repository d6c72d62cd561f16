#include "export/leftovers.h"

#include "store/experiment_store.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace rs {

namespace fs = std::filesystem;

namespace {

std::string hostName() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0)
        return "localhost";
    return name;
}

bool processAlive(long pid) {
    return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

struct LeftoverName {
    std::string target; // the export directory's name
    std::string role;   // staging or old
    long pid = 0;
};

// Parses ".<target>.<role>.<host>.<pid>.<n>" for this host; nullopt for any other name.
std::optional<LeftoverName> parseLeftover(const std::string& name) {
    for (const std::string role : {"staging", "old"}) {
        const std::string middle = "." + role + "." + hostName() + ".";
        const size_t at = name.rfind(middle);
        if (name.empty() || name[0] != '.' || at == std::string::npos || at < 2)
            continue;
        const std::string rest = name.substr(at + middle.size()); // "<pid>.<n>"
        const size_t dot = rest.find('.');
        if (dot == std::string::npos || dot == 0)
            continue;
        try {
            size_t used = 0;
            const long pid = std::stol(rest.substr(0, dot), &used);
            if (used == dot && pid > 0)
                return LeftoverName{name.substr(1, at - 1), role, pid};
        } catch (const std::exception&) {
        }
    }
    return std::nullopt;
}

} // namespace

fs::path stagingRegistry() {
    return defaultCacheDirectory() / "staging";
}

fs::path leftoverName(const fs::path& target, const std::string& role) {
    static std::atomic<unsigned> counter{0};
    return target.parent_path() /
           ("." + target.filename().string() + "." + role + "." + hostName() + "." +
            std::to_string(::getpid()) + "." + std::to_string(counter++));
}

std::vector<std::string> cleanLeftovers(const fs::path& parent, bool dryRun) {
    std::vector<std::string> done;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(parent, ec)) {
        const auto name = parseLeftover(e.path().filename().string());
        if (!name || !e.is_directory(ec) || e.is_symlink(ec) || processAlive(name->pid))
            continue;
        const fs::path target = parent / name->target;
        if (name->role == "old" && !fs::exists(fs::symlink_status(target, ec))) {
            done.push_back("restored the earlier export " + target.string() + " from " +
                           e.path().string());
            if (!dryRun)
                fs::rename(e.path(), target, ec);
        } else {
            done.push_back("removed " + e.path().string() + " (left by process " +
                           std::to_string(name->pid) + ")");
            if (!dryRun)
                fs::remove_all(e.path(), ec);
        }
        if (ec)
            done.back() += " failed: " + ec.message();
    }
    return done;
}

void registerStaging(const fs::path& registry, const fs::path& stage) {
    std::error_code ec;
    fs::create_directories(registry, ec);
    std::ofstream(registry / stage.filename()) << stage.parent_path().string() << "\n";
}

void unregisterStaging(const fs::path& registry, const fs::path& stage) {
    std::error_code ec;
    fs::remove(registry / stage.filename(), ec);
}

std::vector<std::string> cleanRegisteredLeftovers(const fs::path& registry, bool dryRun) {
    std::vector<std::string> done;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(registry, ec)) {
        const auto name = parseLeftover(e.path().filename().string());
        if (!name || processAlive(name->pid))
            continue;
        std::string parent;
        std::getline(std::ifstream(e.path()), parent);
        if (!parent.empty())
            for (std::string& line : cleanLeftovers(parent, dryRun))
                done.push_back(std::move(line));
        if (!dryRun)
            fs::remove(e.path(), ec);
    }
    return done;
}

} // namespace rs
