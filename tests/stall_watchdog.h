#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>
#include <algorithm>

namespace rs::test {

// Measures the longest gap between ticks of a 5 ms timer on the GUI thread: how long the GUI
// was ever blocked while it lives (or since the last takeLongestMs()).
class StallWatchdog : public QObject {
public:
    StallWatchdog() {
        m_timer.setInterval(5);
        connect(&m_timer, &QTimer::timeout, this,
                [this] { m_longest = std::max(m_longest, m_clock.restart()); });
        m_clock.start();
        m_timer.start();
    }
    qint64 longestMs() const { return m_longest; }
    qint64 takeLongestMs() {
        const qint64 out = m_longest;
        m_longest = 0;
        return out;
    }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_longest = 0;
};

} // namespace rs::test
