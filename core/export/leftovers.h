#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rs {

// The hidden directories an export builds beside its target are named
//   .<target>.<role>.<host>.<pid>.<n>      (role: "staging" or "old")
// so that one left behind by a killed process on this host can be told from one still in use.
std::filesystem::path leftoverName(const std::filesystem::path& target, const std::string& role);

// Cleans what exports on this host left in `parent` when their process died: a staging directory
// is removed; an earlier export moved aside ("old") goes back to its name when the new one never
// arrived (the process died between the two renames), else it is removed. Directories of live
// processes and of other hosts are never touched. Returns one line per directory, saying what was
// (or, with dryRun, would be) done.
std::vector<std::string> cleanLeftovers(const std::filesystem::path& parent, bool dryRun = false);

// The cache's folder of staging markers: defaultCacheDirectory() / "staging".
std::filesystem::path stagingRegistry();

// A marker per staging directory in `registry` (the cache's "staging" folder), so that
// `cache prune` finds leftovers wherever an export was written. Markers are a convenience: the
// next export into the same parent cleans its leftovers without them.
void registerStaging(const std::filesystem::path& registry, const std::filesystem::path& stage);
void unregisterStaging(const std::filesystem::path& registry, const std::filesystem::path& stage);
// Cleans the parents named by the markers of dead processes and drops those markers.
std::vector<std::string> cleanRegisteredLeftovers(const std::filesystem::path& registry,
                                                  bool dryRun = false);

} // namespace rs
