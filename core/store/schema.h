#pragma once

#include <string>
#include <vector>

// Schema versions and forward-only migrations, tracked with PRAGMA user_version.
namespace rs::store {

class Database;

// The schema this build writes. Databases at a lower version are migrated on open; a higher
// version (from a newer RankScope) is refused with a message naming both versions.
int currentSchemaVersion();

// The SQL of every migration: migrations()[i] takes version i to version i + 1.
const std::vector<std::string>& migrations();

int schemaVersionOf(Database& db);

// Migrates to currentSchemaVersion() in one transaction (all or nothing). Throws for a newer
// database or a database that is not a RankScope one (tables of its own, user_version 0).
void migrate(Database& db);

// Applies migrations up to `version` only: tests build databases of every earlier version.
void migrateTo(Database& db, int version);

} // namespace rs::store
