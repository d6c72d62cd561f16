// The comma-separated lists a user types: integer lists (ranks, bit widths, group sizes), percent
// lists, and budget lists ("12000, 4.5%, 3.25bpw, r8").

#include "budget/units.h"
#include "fuzz_input.h"
#include "util/lists.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input(rs::fuzz::text(data, size));
    rs::fuzz::acceptRefusal([&] { rs::parseIntegerList(input, "--ranks", 1); });
    rs::fuzz::acceptRefusal([&] { rs::parseIntegerList(input, "--bits"); });
    rs::fuzz::acceptRefusal([&] { rs::parsePercentList(input, "--reductions"); });
    rs::fuzz::acceptRefusal([&] {
        for (const auto& budget : rs::parseBudgetList(input))
            (void)rs::parseBudget(budget.text()); // the written form parses back
    });
    return 0;
}
