#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace rs {

// Where this process stands in a job spread over several processes, as torchrun, Slurm scripts
// and people starting processes by hand describe it: the environment variables RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR and MASTER_PORT.
struct LaunchEnvironment {
    int rank = 0;
    int worldSize = 1;
    int localRank = 0;
    std::string masterAddr;
    int masterPort = 0;
};

// The launch of this process. nullopt when none of the five variables is set (one process, as
// always). Fails naming the variable when only some are set or one is malformed (a rank outside
// the world, a port outside 1..65535).
std::optional<LaunchEnvironment> launchFromEnvironment();

// How long a collective operation waits for the other processes before the job fails:
// RANKSCOPE_DIST_TIMEOUT seconds (default 60). A rank that died is noticed sooner, as soon as
// its connections close.
std::chrono::milliseconds distributedTimeout();

} // namespace rs
