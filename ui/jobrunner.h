#pragma once

#include "util/progress.h"

#include <QObject>
#include <QString>
#include <QThread>
#include <chrono>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace rs::ui {

// Runs long engine jobs (open a model, calibrate, compress, evaluate) one at a time on a worker
// QObject living in its own QThread, and reports back on the thread that owns the runner.
//
// A job's work function runs on the worker thread with a JobContext whose progress callback is
// throttled (about 10 events per second; the first event of a stage and its final "done == total"
// event always pass) and whose CancelToken is set by cancel(). Whatever the work throws becomes
// failed(message); rs::CancelledError, or a cancel() that arrives before the result was applied,
// becomes cancelled() and the result is dropped. On success the result is handed to an apply
// function on the owning thread, then finished() is emitted.
class JobRunner : public QObject {
    Q_OBJECT

public:
    // Runs on the owning thread after the work succeeded; moves the result into the UI.
    using Completion = std::function<void()>;
    // Runs on the worker thread; returns what to do with its result on the owning thread.
    using Work = std::function<Completion(const rs::JobContext&)>;

    explicit JobRunner(QObject* parent = nullptr);
    ~JobRunner() override;

    // Returns false (and starts nothing) while another job is running.
    bool start(const QString& title, Work work);

    // Typed convenience: work(job) -> Result on the worker thread, apply(Result&&) on this one.
    template <typename WorkFn, typename ApplyFn>
    bool run(const QString& title, WorkFn work, ApplyFn apply);

    bool isRunning() const { return m_running; }
    QString currentTitle() const { return m_title; }
    void setProgressInterval(std::chrono::milliseconds interval) { m_interval = interval; }

public slots:
    // Asks the running job to stop; it honours the request at its next cancellation point.
    void cancel();

signals:
    void started(const QString& title);
    void progress(const QString& stage, qint64 done, qint64 total, const QString& detail);
    void finished();
    void failed(const QString& message);
    void cancelled();
    // true just before started(); false just before finished(), failed() or cancelled(), so
    // their handlers may start the next job.
    void runningChanged(bool running);

private:
    void execute(quint64 id, const Work& work, const rs::JobContext& job);
    void complete(quint64 id, const Completion& completion);
    void fail(quint64 id, const QString& message);
    void stop(quint64 id);
    void setRunning(bool running);

    QThread m_thread;
    QObject* m_worker = nullptr; // lives in m_thread; the context the work runs in
    rs::CancelToken m_cancel;
    std::chrono::milliseconds m_interval{100};
    quint64 m_jobId = 0;
    bool m_running = false;
    QString m_title;
};

template <typename WorkFn, typename ApplyFn>
bool JobRunner::run(const QString& title, WorkFn work, ApplyFn apply) {
    using Result = std::invoke_result_t<WorkFn&, const rs::JobContext&>;
    return start(title,
                 [work = std::move(work),
                  apply = std::move(apply)](const rs::JobContext& job) -> Completion {
                     // shared_ptr keeps the completion copyable, as std::function requires.
                     auto result = std::make_shared<Result>(work(job));
                     return [apply, result] { apply(std::move(*result)); };
                 });
}

} // namespace rs::ui
