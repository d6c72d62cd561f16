#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace rs {

// Wall time per stage of a job, summed over every visit and kept in order of first use (the
// stageSeconds of a job's result, as the store records them).
class StageClock {
public:
    using Clock = std::chrono::steady_clock;
    using Stages = std::vector<std::pair<std::string, double>>;

    explicit StageClock(Stages& stages)
        : m_stages(stages) {}

    // Adds the time since `since` to `stage`.
    void add(const std::string& stage, Clock::time_point since) {
        const Clock::time_point now = Clock::now();
        const double seconds = std::chrono::duration<double>(now - since).count();
        m_last = now;
        for (auto& [name, total] : m_stages)
            if (name == stage) {
                total += seconds;
                return;
            }
        m_stages.emplace_back(stage, seconds);
    }
    // Adds the time since the previous add (or since the clock was made) to `stage`.
    void add(const std::string& stage) { add(stage, m_last); }

private:
    Stages& m_stages;
    Clock::time_point m_last = Clock::now();
};

} // namespace rs
