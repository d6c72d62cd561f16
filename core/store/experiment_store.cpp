// The experiment store's connection: opening and migrating the database, and the liveness locks
// that tell a running experiment from one whose process is gone.
#include "store/experiment_store_impl.h"
#include "store/schema.h"
#include "util/argument_error.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sys/file.h>
#include <unistd.h>

namespace rs {

using store::Database;
using store::Statement;

namespace store {

// --- Liveness locks ----------------------------------------------------------------------------
// A running experiment's process holds an exclusive flock() on its lock file. The kernel drops
// it when the process ends in any way, so a lock that can be taken means the owner is gone.

std::filesystem::path lockFile(const std::filesystem::path& dir, int64_t experiment) {
    return dir / ("experiment-" + std::to_string(experiment) + ".lock");
}

int acquireLock(const std::filesystem::path& file) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    if (error)
        fail(file.parent_path().string(), "cannot create the lock directory: " + error.message());
    const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(file.string(), std::string("cannot create the lock file: ") + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int code = errno;
        ::close(fd);
        fail(file.string(), std::string("cannot lock: ") + std::strerror(code));
    }
    return fd;
}

// Unlinks while still holding the lock, so that nobody can take a lock on a file about to go.
void releaseLock(const std::filesystem::path& file, int fd) {
    ::unlink(file.c_str());
    ::close(fd);
}

namespace {

// Beside the database's real path, so that every process finds the same locks whichever
// path (relative, through a symbolic link) it opened the database by.
std::filesystem::path lockDirectory(const std::filesystem::path& database) {
    std::error_code error;
    const std::filesystem::path real = std::filesystem::weakly_canonical(database, error);
    return (error ? std::filesystem::absolute(database) : real).string() + ".locks";
}

// True when no live process holds the file's lock; a free lock file is removed.
bool ownerGone(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return false;
    }
    releaseLock(file, fd);
    return true;
}

} // namespace

} // namespace store

using store::lockFile;
using store::nowUtc;
using store::ownerGone;

ExperimentStore::Impl::Impl(const std::filesystem::path& path, const Options& options)
    : db(path, options.readOnly ? Database::Mode::ReadOnly : Database::Mode::ReadWrite,
         static_cast<int>(options.busyTimeout.count()))
    , lockDir(store::lockDirectory(path)) {}

ExperimentStore::Impl::~Impl() {
    // Closing releases the locks: an unfinished experiment reads as interrupted later.
    for (const auto& [id, fd] : locks)
        ::close(fd);
}

void ExperimentStore::Impl::requireExperiment(int64_t id) {
    Statement s = db.prepare("SELECT 1 FROM experiments WHERE id = ?");
    if (!s.bind(1, id).step())
        failArgument(db.path().string(), "no experiment " + std::to_string(id));
}

std::vector<int64_t> ExperimentStore::Impl::runningExperiments() {
    std::vector<int64_t> ids;
    Statement s = db.prepare("SELECT id FROM experiments WHERE status = 'running'");
    while (s.step())
        ids.push_back(s.integer(0));
    return ids;
}

// Runs under the write lock: an experiment is inserted and its lock taken in one transaction
// (beginExperiment), so no Running row is ever visible here without its lock held.
void ExperimentStore::Impl::markInterrupted() {
    Database::Action action(db, "cannot mark interrupted experiments");
    std::error_code error;
    const bool lockFiles =
        std::filesystem::exists(lockDir, error) && !std::filesystem::is_empty(lockDir, error);
    if (!lockFiles && runningExperiments().empty())
        return;
    Database::Transaction transaction(db);
    std::set<int64_t> alive;
    Statement mark = db.prepare("UPDATE experiments SET status = 'interrupted', finished = ?, "
                                "error = 'the process running it ended before it finished' "
                                "WHERE id = ?");
    const std::string now = nowUtc();
    for (const int64_t id : runningExperiments()) {
        if (!ownerGone(lockFile(lockDir, id))) {
            alive.insert(id);
            continue;
        }
        mark.bind(1, now).bind(2, id).run();
        mark.reset();
    }
    // Lock files left behind by finished experiments (a crash between commit and unlink).
    for (const auto& entry : std::filesystem::directory_iterator(lockDir, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("experiment-", 0) != 0)
            continue;
        const int64_t id = std::atoll(name.c_str() + std::strlen("experiment-"));
        if (!alive.count(id))
            ownerGone(entry.path());
    }
    transaction.commit();
}

std::unique_ptr<ExperimentStore> ExperimentStore::open(const std::filesystem::path& path,
                                                       Options options) {
    if (!options.readOnly && path.has_parent_path()) {
        std::error_code error;
        std::filesystem::create_directories(path.parent_path(), error);
        if (error)
            fail(path.string(), "cannot create the directory " + path.parent_path().string() +
                                    ": " + error.message());
    }
    auto impl = std::make_unique<Impl>(path, options);
    store::migrate(impl->db);
    if (!options.readOnly)
        impl->markInterrupted();
    return std::unique_ptr<ExperimentStore>(new ExperimentStore(std::move(impl)));
}

ExperimentStore::ExperimentStore(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl)) {}

ExperimentStore::~ExperimentStore() = default;

const std::filesystem::path& ExperimentStore::path() const {
    return m_impl->db.path();
}

int ExperimentStore::schemaVersion() const {
    return store::schemaVersionOf(m_impl->db);
}

store::Database& ExperimentStore::database() {
    return m_impl->db;
}

} // namespace rs
