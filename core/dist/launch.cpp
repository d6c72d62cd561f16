#include "dist/launch.h"

#include "util/error.h"

#include <array>
#include <cstdlib>

namespace rs {

namespace {

constexpr std::array<const char*, 5> kLaunchVariables{"RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                      "MASTER_ADDR", "MASTER_PORT"};

int integerVariable(const char* name, int lowest, int highest) {
    const std::string text = std::getenv(name);
    try {
        size_t used = 0;
        const long value = std::stol(text, &used);
        if (used == text.size() && value >= lowest && value <= highest)
            return static_cast<int>(value);
    } catch (const std::exception&) {
    }
    fail(std::string("environment variable ") + name, "'" + text + "' is not an integer in " +
                                                          std::to_string(lowest) + ".." +
                                                          std::to_string(highest));
}

} // namespace

std::optional<LaunchEnvironment> launchFromEnvironment() {
    std::string set, missing;
    for (const char* name : kLaunchVariables) {
        std::string& list = std::getenv(name) ? set : missing;
        list += (list.empty() ? "" : " ") + std::string(name);
    }
    if (set.empty())
        return std::nullopt;
    if (!missing.empty())
        fail("distributed launch",
             "the environment sets some of RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, "
             "MASTER_PORT but not " +
                 missing + " (set all five, or none for one process)");
    LaunchEnvironment env;
    env.worldSize = integerVariable("WORLD_SIZE", 1, 1 << 20);
    env.rank = integerVariable("RANK", 0, env.worldSize - 1);
    env.localRank = integerVariable("LOCAL_RANK", 0, env.worldSize - 1);
    env.masterAddr = std::getenv("MASTER_ADDR");
    if (env.masterAddr.empty())
        fail("environment variable MASTER_ADDR", "is empty");
    env.masterPort = integerVariable("MASTER_PORT", 1, 65535);
    return env;
}

std::chrono::milliseconds distributedTimeout() {
    const char* text = std::getenv("RANKSCOPE_DIST_TIMEOUT");
    if (!text)
        return std::chrono::seconds(60);
    return std::chrono::seconds(integerVariable("RANKSCOPE_DIST_TIMEOUT", 1, 7 * 24 * 3600));
}

} // namespace rs
