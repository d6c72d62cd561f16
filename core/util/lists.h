#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace rs {

// The one grammar of the lists a user types, in the CLI and in the GUI alike (ranks, parameter
// reductions, bit widths, group sizes): values separated by commas, blanks around a value
// ignored, at least one value, no empty one and none twice ("4, 8,16" is three ranks; "4,,8" and
// "4,4" are refused: a repeated value would only repeat a run).
// Each parser fails with an rs::Error that names the list (`what`) and the value at fault.

// Whole numbers of at least `min`.
std::vector<int64_t> parseIntegerList(const std::string& text, const std::string& what,
                                      int64_t min = std::numeric_limits<int64_t>::min());

// Percentages strictly between 0 and 100.
std::vector<double> parsePercentList(const std::string& text, const std::string& what);

} // namespace rs
