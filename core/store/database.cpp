#include "store/database.h"

#include "util/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sqlite3.h>
#include <unistd.h>
#include <utility>

namespace rs::store {

namespace {

constexpr char kSqliteMagic[] = "SQLite format 3"; // 16 bytes with its NUL
constexpr size_t kSqliteHeaderBytes = 100;

uint32_t bigEndian(const unsigned char* p, int bytes) {
    uint32_t value = 0;
    for (int i = 0; i < bytes; ++i)
        value = (value << 8) | p[i];
    return value;
}

bool hasWalContent(const std::filesystem::path& path) {
    std::error_code error;
    const auto size = std::filesystem::file_size(path.string() + "-wal", error);
    return !error && size > 0;
}

// Refuses, before SQLite opens it, a file that is not a SQLite database or is visibly truncated:
// SQLite itself would only notice on the first read of a missing page, after a read-write
// connection may already have written to the file.
void checkDatabaseFile(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (error)
        fail(name, "cannot read the database file: " + error.message());
    if (size == 0)
        return; // SQLite's own empty database
    unsigned char header[kSqliteHeaderBytes] = {};
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(header), sizeof header);
    const size_t got = static_cast<size_t>(in.gcount());
    if (!in && !in.eof())
        fail(name, "cannot read the database file");
    const size_t magicBytes = sizeof kSqliteMagic;
    if (std::memcmp(header, kSqliteMagic, std::min(got, magicBytes)) != 0)
        fail(name, "not a SQLite database (the file does not start with the SQLite header)");
    if (got < kSqliteHeaderBytes)
        fail(name, "the database file is truncated (" + std::to_string(size) +
                       " bytes, shorter than the 100-byte SQLite header)");
    uint32_t pageSize = bigEndian(header + 16, 2);
    if (pageSize == 1)
        pageSize = 65536;
    if (pageSize < 512 || (pageSize & (pageSize - 1)) != 0)
        fail(name, "the database file is damaged (invalid page size " + std::to_string(pageSize) +
                       " in its header)");
    // A crash in the middle of a checkpoint can leave the file short of its header's size with
    // the missing pages still in the -wal file, which SQLite replays: only judge without one.
    if (hasWalContent(path))
        return;
    const uint32_t pages = bigEndian(header + 28, 4);
    const bool pagesValid = pages != 0 && bigEndian(header + 24, 4) == bigEndian(header + 92, 4);
    const uint64_t expected = uint64_t(pages) * pageSize;
    if (size % pageSize != 0 || (pagesValid && size < expected))
        fail(name, "the database file is truncated (" + std::to_string(size) + " bytes" +
                       (pagesValid ? ", its header says " + std::to_string(expected) : "") + ")");
}

std::string directoryOf(const std::filesystem::path& path) {
    const auto parent = path.parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

// SQLite would fall back to read-only or fail with "unable to open database file"; say why.
void checkWritable(const std::filesystem::path& path, bool exists) {
    const std::string dir = directoryOf(path);
    if (exists && ::access(path.c_str(), W_OK) != 0)
        fail(path.string(), std::string("the database file is not writable (") +
                                std::strerror(errno) + "); open it read-only to browse it");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        const std::string reason = std::strerror(errno);
        if (!exists)
            fail(path.string(), "cannot create the database: the directory " + dir +
                                    " is not writable (" + reason + ")");
        fail(path.string(), "the directory " + dir + " is not writable (" + reason +
                                "), and SQLite needs to create its journal files beside the "
                                "database; open it read-only to browse it");
    }
}

// A WAL database needs its -wal and -shm files, which SQLite cannot create in a directory
// without write permission (read-only media, an archive). With no -wal file there, nobody can be
// writing the database either, so it may be opened as immutable.
bool readOnlyPlace(const std::filesystem::path& path) {
    std::error_code error;
    return ::access(directoryOf(path).c_str(), W_OK) != 0 &&
           !std::filesystem::exists(path.string() + "-wal", error);
}

std::string immutableUri(const std::filesystem::path& path) {
    std::string uri = "file:";
    for (const char c : std::filesystem::absolute(path).string()) {
        if (c == '%' || c == '?' || c == '#') {
            char escaped[4];
            std::snprintf(escaped, sizeof escaped, "%%%02X", static_cast<unsigned char>(c));
            uri += escaped;
        } else {
            uri += c;
        }
    }
    return uri + "?immutable=1";
}

} // namespace

// --- Statement ---------------------------------------------------------------------------------

Statement::Statement(Database& db, std::string_view sql)
    : m_db(&db) {
    const int rc =
        sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &m_stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(m_stmt);
        m_stmt = nullptr;
        db.raise(db.m_action.empty() ? "cannot prepare \"" + std::string(sql.substr(0, 60)) + "\""
                                     : std::string(),
                 rc);
    }
}

Statement::~Statement() {
    sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement&& other) noexcept
    : m_db(other.m_db)
    , m_stmt(other.m_stmt) {
    other.m_stmt = nullptr;
}

Statement& Statement::bind(int index, int64_t value) {
    const int rc = sqlite3_bind_int64(m_stmt, index, value);
    if (rc != SQLITE_OK)
        m_db->raise({}, rc);
    return *this;
}

Statement& Statement::bind(int index, double value) {
    const int rc = sqlite3_bind_double(m_stmt, index, value);
    if (rc != SQLITE_OK)
        m_db->raise({}, rc);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    const int rc =
        sqlite3_bind_text64(m_stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK)
        m_db->raise({}, rc);
    return *this;
}

Statement& Statement::bindBlob(int index, std::span<const std::byte> bytes) {
    // An empty span stays an empty blob, not NULL (sqlite binds NULL for a null pointer).
    static const std::byte empty{};
    const int rc = sqlite3_bind_blob64(m_stmt, index, bytes.empty() ? &empty : bytes.data(),
                                       bytes.size(), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        m_db->raise({}, rc);
    return *this;
}

Statement& Statement::bindNull(int index) {
    const int rc = sqlite3_bind_null(m_stmt, index);
    if (rc != SQLITE_OK)
        m_db->raise({}, rc);
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    sqlite3_reset(m_stmt);
    m_db->raise(m_db->m_action.empty()
                    ? "cannot run \"" + std::string(sqlite3_sql(m_stmt)).substr(0, 60) + "\""
                    : std::string(),
                rc);
}

void Statement::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::isNull(int column) const {
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

int64_t Statement::integer(int column) const {
    return sqlite3_column_int64(m_stmt, column);
}

double Statement::real(int column) const {
    return sqlite3_column_double(m_stmt, column);
}

std::string Statement::text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
    return data ? std::string(data, static_cast<size_t>(sqlite3_column_bytes(m_stmt, column)))
                : std::string();
}

std::span<const std::byte> Statement::blob(int column) const {
    const void* data = sqlite3_column_blob(m_stmt, column);
    const int size = sqlite3_column_bytes(m_stmt, column);
    if (!data)
        return {};
    return {static_cast<const std::byte*>(data), static_cast<size_t>(size)};
}

// --- Database ----------------------------------------------------------------------------------

Database::Database(const std::filesystem::path& path, Mode mode, int busyTimeoutMs)
    : m_path(path)
    , m_mode(mode) {
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    if (exists && std::filesystem::is_directory(path, error))
        fail(path.string(), "is a directory, not a database file");
    if (mode == Mode::ReadOnly && !exists)
        fail(path.string(), "no such database");
    if (exists)
        checkDatabaseFile(path);
    if (mode == Mode::ReadWrite)
        checkWritable(path, exists);

    int flags =
        mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    std::string name = path.string();
    if (mode == Mode::ReadOnly && readOnlyPlace(path)) {
        name = immutableUri(path);
        flags |= SQLITE_OPEN_URI;
    }
    const int rc = sqlite3_open_v2(name.c_str(), &m_db, flags, nullptr);
    try {
        if (rc != SQLITE_OK)
            raise("cannot open the database", rc);
        sqlite3_busy_timeout(m_db, busyTimeoutMs);
        if (mode == Mode::ReadWrite && sqlite3_db_readonly(m_db, "main") == 1)
            fail(path.string(), "SQLite could only open the database read-only; open it "
                                "read-only to browse it");
        Action action(*this, "cannot configure the connection");
        // NORMAL is durable against a crash of the process in WAL mode; a power loss may lose
        // the last commits but never corrupts the file, and it spares an fsync per commit.
        // A 32 MiB page cache (allocated as used) keeps a listing of thousands of experiments
        // in memory between calls instead of reading it again from the file.
        exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;");
    } catch (...) {
        sqlite3_close(m_db);
        throw;
    }
}

Database::~Database() {
    sqlite3_close(m_db);
}

void Database::exec(std::string_view sql) {
    const std::string copy(sql); // sqlite3_exec needs a NUL-terminated string
    const int rc = sqlite3_exec(m_db, copy.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK)
        raise({}, rc);
}

int64_t Database::lastInsertId() const {
    return sqlite3_last_insert_rowid(m_db);
}

int Database::changes() const {
    return sqlite3_changes(m_db);
}

void Database::raise(std::string_view action, int code) const {
    std::string what(action.empty() ? std::string_view(m_action) : action);
    if (what.empty())
        what = "SQLite error";
    // The connection's message is more precise ("UNIQUE constraint failed: ...") when it is
    // about this error.
    const bool current = m_db && (sqlite3_errcode(m_db) & 0xff) == (code & 0xff);
    std::string message = current ? sqlite3_errmsg(m_db) : sqlite3_errstr(code);
    if ((code & 0xff) == SQLITE_BUSY)
        message += " (another connection held it longer than the busy timeout)";
    // The operating system's reason, where SQLite's message is generic.
    const int primary = code & 0xff;
    const int system = m_db ? sqlite3_system_errno(m_db) : 0;
    if (system != 0 && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR))
        message += std::string(" (") + std::strerror(system) + ")";
    fail(m_path.string(), what + ": " + message);
}

Database::Action::Action(Database& db, std::string what)
    : m_db(db)
    , m_previous(std::exchange(db.m_action, std::move(what))) {}

Database::Action::~Action() {
    m_db.m_action = std::move(m_previous);
}

// --- Transaction -------------------------------------------------------------------------------

Database::Transaction::Transaction(Database& db)
    : m_db(db) {
    if (db.readOnly())
        fail(db.path().string(), (db.m_action.empty() ? std::string("cannot write") : db.m_action) +
                                     ": the database was opened read-only");
    db.exec("BEGIN IMMEDIATE");
}

Database::Transaction::~Transaction() {
    // SQLite may already have rolled back by itself (a full disk, an I/O error).
    if (!m_done && !sqlite3_get_autocommit(m_db.handle()))
        sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Database::Transaction::commit() {
    m_db.exec("COMMIT");
    m_done = true;
}

} // namespace rs::store
