#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

// A thin RAII layer over the sqlite3 C API. Every failure throws rs::Error
// "<database path>: <what was attempted>: <sqlite message>".
namespace rs::store {

class Database;

class Statement {
public:
    Statement(Database& db, std::string_view sql);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    // Parameters are 1-based, as in SQL.
    Statement& bind(int index, int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bindBlob(int index, std::span<const std::byte> bytes);
    Statement& bindNull(int index);
    template <typename T> Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bindNull(index);
    }

    // Advances to the next row; false when done. Throws on errors (busy after the timeout,
    // constraint violations, I/O errors, full disk).
    bool step();
    void run() { step(); } // for statements without rows
    void reset();

    // Columns are 0-based.
    bool isNull(int column) const;
    int64_t integer(int column) const;
    double real(int column) const;
    std::string text(int column) const;
    std::span<const std::byte> blob(int column) const; // valid until the next step()/reset()

private:
    Database* m_db = nullptr;
    sqlite3_stmt* m_stmt = nullptr;
};

class Database {
public:
    enum class Mode { ReadWrite, ReadOnly };
    // ReadWrite creates the file when missing (its directory must exist). Sets foreign_keys = ON
    // and the busy timeout; WAL is switched on by migrate()/migrateTo() once the file is known to
    // be a RankScope database, so that a foreign file is never modified. Never deletes or
    // rewrites an existing file: a file that is not a SQLite database, a truncated one, or one
    // that cannot be written in ReadWrite mode is refused before SQLite touches it. ReadOnly
    // opens a database in a directory it may not write (read-only media) as immutable.
    Database(const std::filesystem::path& path, Mode mode, int busyTimeoutMs);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(std::string_view sql); // one or more statements without results
    Statement prepare(std::string_view sql) { return Statement(*this, sql); }
    int64_t lastInsertId() const;
    int changes() const;
    bool readOnly() const { return m_mode == Mode::ReadOnly; }
    const std::filesystem::path& path() const { return m_path; }
    sqlite3* handle() const { return m_db; }
    // Throws "<path>: <action>: <sqlite message>"; an empty action means the current Action's.
    [[noreturn]] void raise(std::string_view action, int code) const;

    // Names what the statements run in its scope attempt ("cannot insert layer results"), for
    // the messages of the errors they raise. Scopes nest; the innermost wins.
    class Action {
    public:
        Action(Database& db, std::string what);
        ~Action();
        Action(const Action&) = delete;
        Action& operator=(const Action&) = delete;

    private:
        Database& m_db;
        std::string m_previous;
    };

    // BEGIN IMMEDIATE (takes the write lock up front, so a writer waits at the start instead of
    // failing half-way); rolls back in the destructor unless commit() was called. Refused on a
    // read-only database.
    class Transaction {
    public:
        explicit Transaction(Database& db);
        ~Transaction();
        Transaction(const Transaction&) = delete;
        Transaction& operator=(const Transaction&) = delete;
        void commit();

    private:
        Database& m_db;
        bool m_done = false;
    };

private:
    friend class Statement;
    std::filesystem::path m_path;
    Mode m_mode;
    sqlite3* m_db = nullptr;
    std::string m_action;
};

} // namespace rs::store
