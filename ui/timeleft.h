#pragma once

#include <QtGlobal>

namespace rs::ui {

// A time-left estimate that does not swing. The raw estimate extrapolates the stage's pace over
// all of its elapsed time (not the last step's); between updates the shown estimate counts down,
// and it moves toward each new raw estimate with a time constant of kSmoothingMs, so that one
// slow or fast step (a cache hit, a larger layer) nudges it instead of making it jump.
class TimeLeft {
public:
    static constexpr double kSmoothingMs = 8000.0;
    // No estimate before this much of the stage has run, nor before its first unit.
    static constexpr qint64 kWarmUpMs = 1500;

    // A new stage: its pace starts afresh.
    void restart();
    // done of total units after elapsedMs of the stage; the smoothed estimate in milliseconds,
    // or -1 while it is too early to say.
    qint64 update(qint64 done, qint64 total, qint64 elapsedMs);

private:
    double m_estimateMs = -1.0;
    qint64 m_lastElapsedMs = 0;
};

} // namespace rs::ui
