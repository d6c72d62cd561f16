#pragma once

#include "pipeline/compress_job.h"
#include "pipeline/lowrank_job.h"
#include "timeleft.h"

#include <QWidget>
#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;

namespace rs::ui {

class LowRankOptions;
class RunResults;
class MethodForm;

// The run panel: the job, calibration text and token budget, then either (compression) the
// calibration mode, compression method and parameters, compensation methods and ranks, or (low
// rank) the LoRD/Lillama method and sizes; the evaluation text, Run and Cancel and the running
// job's stage, layer and ETA. It only builds requests; the main window runs them.
class RunPanel : public QWidget {
    Q_OBJECT

public:
    enum class Job {
        Compression, // compress, compensate with low-rank paths (CompressRequest)
        LowRank,     // replace dense linears by factor pairs (LowRankRequest)
    };

    explicit RunPanel(QWidget* parent = nullptr);

    Job job() const;
    void setJob(Job job);

    // The request as shown, or nullopt with the reason in `problem` (missing text, bad ranks).
    std::optional<rs::CompressRequest> request(QString* problem = nullptr) const;
    // Fills the controls from a request (a stored experiment to re-run).
    void setRequest(const rs::CompressRequest& request);
    // The low-rank job's request as shown, or nullopt with the reason in `problem`.
    std::optional<rs::LowRankRequest> lowRankRequest(QString* problem = nullptr) const;
    // Shows a low-rank request (job, texts, budget, method and sizes).
    void setLowRankRequest(const rs::LowRankRequest& request);

    void setCalibText(const QString& path);
    void setEvalText(const QString& path);
    void setRanks(const QString& ranks);
    void setCalibTokens(int tokens);

    // Enables Run only with a model and while no job runs; shows Cancel while one runs.
    void setModelLoaded(bool loaded);
    void setRunning(bool running);
    // Another job (an export, a sensitivity measurement) runs: Run waits for it, no Cancel here.
    void setOtherJobRunning(bool running);
    // Progress of the running job: stage, its detail (layer) and the units of the stage.
    void showProgress(const QString& stage, qint64 done, qint64 total, const QString& detail,
                      qint64 stageElapsedMs);
    // A message about the last run (its result, or why it could not start); it clears as soon
    // as the user changes the inputs.
    void showMessage(const QString& message);

    MethodForm* compressionForm() const { return m_compression; }
    MethodForm* compensationForm() const { return m_compensation; }
    LowRankOptions* lowRankOptions() const { return m_lowRank; }
    QCheckBox* analyzeBox() const { return m_analyze; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }
    QLabel* statusLabel() const { return m_status; }
    // The last finished run's perplexities, below the status.
    RunResults* results() const { return m_results; }

    void saveSettings() const;
    void restoreSettings();

signals:
    void runRequested();
    void cancelRequested();

private:
    // The constructor's steps.
    void setUpCalibration();
    void setUpMethods();
    void setUpEvaluation();
    void setUpRunControls();
    void layOut();
    void connectControls();

    QWidget* filePicker(QLineEdit* edit, const QString& title);
    void updateRunEnabled();
    void inputsChanged();
    // What both jobs read from the form: the calibration text and budget and the optional
    // evaluation text, checked to exist; nullopt with the reason in `problem`.
    std::optional<rs::JobInputs> inputs(QString* problem) const;
    void setInputs(const rs::JobInputs& inputs);

    QComboBox* m_job;
    QStackedWidget* m_jobPages;
    LowRankOptions* m_lowRank;
    QLineEdit* m_calibText;
    QSpinBox* m_calibTokens;
    QComboBox* m_calibMode;
    MethodForm* m_compression;
    MethodForm* m_compensation;
    QCheckBox* m_compareSvd;
    QCheckBox* m_compareNone;
    QLineEdit* m_ranks;
    QLineEdit* m_evalText;
    QCheckBox* m_analyze;
    QPushButton* m_run;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_status;
    RunResults* m_results;
    QString m_progressStage;
    TimeLeft m_timeLeft;
    bool m_modelLoaded = false;
    bool m_running = false;
    bool m_otherJob = false;
};

// "4, 8,16" -> {4, 8, 16} (util/lists.h); nullopt for anything else (empty, non-numbers,
// ranks < 1).
std::optional<std::vector<int64_t>> parseRanks(const QString& text);

} // namespace rs::ui
