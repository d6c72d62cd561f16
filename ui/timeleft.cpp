#include "timeleft.h"

#include <algorithm>
#include <cmath>

namespace rs::ui {

void TimeLeft::restart() {
    m_estimateMs = -1.0;
    m_lastElapsedMs = 0;
}

qint64 TimeLeft::update(qint64 done, qint64 total, qint64 elapsedMs) {
    if (total <= 0 || done <= 0 || elapsedMs < kWarmUpMs) {
        if (done >= total && total > 0)
            restart();
        return -1;
    }
    if (done >= total) {
        m_estimateMs = 0.0;
        m_lastElapsedMs = elapsedMs;
        return 0;
    }
    const double raw = double(elapsedMs) * double(total - done) / double(done);
    if (m_estimateMs < 0.0) {
        m_estimateMs = raw;
    } else {
        const double dt = double(std::max<qint64>(0, elapsedMs - m_lastElapsedMs));
        const double counted = std::max(0.0, m_estimateMs - dt);
        const double pull = 1.0 - std::exp(-dt / kSmoothingMs);
        m_estimateMs = counted + pull * (raw - counted);
    }
    m_lastElapsedMs = elapsedMs;
    return qint64(std::llround(m_estimateMs));
}

} // namespace rs::ui
