#include "jobrunner.h"

#include "pipeline/session.h"
#include "utf8.h"
#include "util/error.h"

#include <QMetaObject>
#include <exception>
#include <mutex>

namespace rs::ui {

namespace {

// Drops progress events that arrive faster than the interval, except the first event of a stage
// and a stage's final event, so the UI never misses a stage nor the end of one.
class ProgressThrottle {
public:
    explicit ProgressThrottle(std::chrono::milliseconds interval)
        : m_interval(interval) {}

    bool admit(const rs::ProgressEvent& event) {
        const auto now = std::chrono::steady_clock::now();
        // Engine code may report from several threads.
        const std::lock_guard lock(m_mutex);
        const bool newStage = !m_started || event.stage != m_stage;
        const bool last = event.total > 0 && event.done >= event.total;
        if (!newStage && !last && now - m_last < m_interval)
            return false;
        m_started = true;
        m_stage = event.stage;
        m_last = now;
        return true;
    }

private:
    std::mutex m_mutex;
    std::chrono::milliseconds m_interval;
    std::chrono::steady_clock::time_point m_last;
    std::string m_stage;
    bool m_started = false;
};

} // namespace

JobRunner::JobRunner(QObject* parent)
    : QObject(parent) {
    m_thread.setObjectName(QStringLiteral("rankscope-jobs"));
    m_worker = new QObject;
    m_worker->moveToThread(&m_thread);
    m_thread.start();
}

JobRunner::~JobRunner() {
    m_cancel.cancel();
    m_thread.quit();
    m_thread.wait();
    delete m_worker;
}

bool JobRunner::start(const QString& title, Work work) {
    if (m_running || !work)
        return false;
    const quint64 id = ++m_jobId;
    m_cancel = rs::CancelToken();
    m_title = title;

    rs::JobContext job;
    job.cancel = m_cancel;
    job.memory = rs::jobMemoryBudget(0);
    auto throttle = std::make_shared<ProgressThrottle>(m_interval);
    job.progress = [this, id, throttle](const rs::ProgressEvent& event) {
        if (!throttle->admit(event))
            return;
        QMetaObject::invokeMethod(
            this,
            [this, id, stage = fromUtf8(event.stage), detail = fromUtf8(event.detail),
             done = qint64(event.done), total = qint64(event.total)] {
                if (id == m_jobId && m_running)
                    emit progress(stage, done, total, detail);
            },
            Qt::QueuedConnection);
    };

    setRunning(true);
    emit started(title);
    QMetaObject::invokeMethod(
        m_worker, [this, id, work = std::move(work), job] { execute(id, work, job); },
        Qt::QueuedConnection);
    return true;
}

void JobRunner::cancel() {
    if (m_running)
        m_cancel.cancel();
}

// Runs on the worker thread: reads no member and posts every outcome back to the owning thread.
void JobRunner::execute(quint64 id, const Work& work, const rs::JobContext& job) {
    auto post = [this](auto fn) { QMetaObject::invokeMethod(this, fn, Qt::QueuedConnection); };
    try {
        job.cancel.throwIfCancelled();
        Completion completion = work(job);
        post([this, id, completion = std::move(completion)] { complete(id, completion); });
    } catch (const rs::CancelledError&) {
        post([this, id] { stop(id); });
    } catch (const std::exception& e) {
        post([this, id, message = QString::fromUtf8(e.what())] { fail(id, message); });
    } catch (...) {
        post([this, id] { fail(id, tr("unknown error")); });
    }
}

void JobRunner::complete(quint64 id, const Completion& completion) {
    if (id != m_jobId || !m_running)
        return;
    if (m_cancel.isCancelled()) {
        stop(id);
        return;
    }
    try {
        if (completion)
            completion();
    } catch (const std::exception& e) {
        fail(id, QString::fromUtf8(e.what()));
        return;
    }
    setRunning(false);
    emit finished();
}

void JobRunner::fail(quint64 id, const QString& message) {
    if (id != m_jobId || !m_running)
        return;
    setRunning(false);
    emit failed(message);
}

void JobRunner::stop(quint64 id) {
    if (id != m_jobId || !m_running)
        return;
    setRunning(false);
    emit cancelled();
}

void JobRunner::setRunning(bool running) {
    if (m_running == running)
        return;
    m_running = running;
    emit runningChanged(running);
}

} // namespace rs::ui
