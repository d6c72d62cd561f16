#include "runpanel.h"

#include "compactcombo.h"
#include "lowrankoptions.h"
#include "methodform.h"
#include "runresults.h"
#include "util/error.h"
#include "util/lists.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <limits>

namespace rs::ui {

namespace {

const QString kSettingsGroup = QStringLiteral("runPanel");
constexpr int kMaxCalibTokens = 1 << 24;
constexpr int kDefaultCalibTokens = 16384;

std::filesystem::path toPath(const QString& path) {
    return std::filesystem::path(QFile::encodeName(path).toStdString());
}

QString fromPath(const std::filesystem::path& path) {
    return QFile::decodeName(QByteArray::fromStdString(path.string()));
}

QString formatDuration(qint64 ms) {
    const qint64 s = (ms + 500) / 1000;
    if (s < 60)
        return RunPanel::tr("%1 s").arg(s);
    return RunPanel::tr("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

} // namespace

std::optional<std::vector<int64_t>> parseRanks(const QString& text) {
    try {
        return rs::parseIntegerList(text.toStdString(), "ranks", 1);
    } catch (const rs::Error&) {
        return std::nullopt;
    }
}

RunPanel::RunPanel(QWidget* parent)
    : QWidget(parent)
    , m_job(compactCombo(new QComboBox))
    , m_jobPages(new QStackedWidget)
    , m_lowRank(new LowRankOptions)
    , m_calibText(new QLineEdit)
    , m_calibTokens(new QSpinBox)
    , m_calibMode(compactCombo(new QComboBox))
    , m_compression(new MethodForm(rs::MethodKind::Compression))
    , m_compensation(new MethodForm(rs::MethodKind::Compensation))
    , m_compareSvd(new QCheckBox(tr("Also plain SVD")))
    , m_compareNone(new QCheckBox(tr("Also without compensation")))
    , m_ranks(new QLineEdit(QStringLiteral("4, 8, 16")))
    , m_evalText(new QLineEdit)
    , m_analyze(new QCheckBox(tr("Analyse every layer (spectra, error curves)")))
    , m_run(new QPushButton(tr("Run")))
    , m_cancel(new QPushButton(tr("Cancel")))
    , m_progress(new QProgressBar)
    , m_status(new QLabel)
    , m_results(new RunResults) {
    setObjectName(QStringLiteral("runPanel"));
    setUpCalibration();
    setUpMethods();
    setUpEvaluation();
    setUpRunControls();
    layOut();
    connectControls();
    setRunning(false);
}

// The job choice and where the statistics come from.
void RunPanel::setUpCalibration() {
    m_job->setObjectName(QStringLiteral("job"));
    m_job->addItem(tr("Compress and compensate"), int(Job::Compression));
    m_job->addItem(tr("Low-rank replacement (LoRD, Lillama)"), int(Job::LowRank));
    m_job->setToolTip(tr("Compress and compensate: quantize or prune, then add low-rank paths "
                         "that correct the error. Low-rank replacement: replace the dense "
                         "linears themselves by factor pairs."));
    m_calibText->setObjectName(QStringLiteral("calibText"));
    m_calibText->setPlaceholderText(tr("Text file the statistics are gathered from"));
    m_calibTokens->setObjectName(QStringLiteral("calibTokens"));
    m_calibTokens->setRange(0, kMaxCalibTokens);
    m_calibTokens->setSingleStep(1024);
    m_calibTokens->setValue(kDefaultCalibTokens);
    m_calibTokens->setSpecialValueText(tr("whole text"));
    m_calibTokens->setSuffix(tr(" tokens"));
    m_calibTokens->setToolTip(tr("Calibration token budget (0: the whole text)"));
    m_calibMode->setObjectName(QStringLiteral("calibMode"));
    m_calibMode->addItem(tr("Parallel (original activations)"), int(rs::CalibrationMode::Parallel));
    m_calibMode->addItem(tr("Sequential (through compressed layers)"),
                         int(rs::CalibrationMode::Sequential));
    m_calibMode->setToolTip(tr("Parallel: statistics of the original model, reusable across "
                               "runs. Sequential: each decoder layer sees inputs that went "
                               "through the already compressed and compensated layers."));
}

// Compression, compensation and the ranks of the compression job.
void RunPanel::setUpMethods() {
    m_compression->setObjectName(QStringLiteral("compressionForm"));
    m_compression->setSerialized(QStringLiteral("rtn:bits=3,group=32"));
    m_compensation->setObjectName(QStringLiteral("compensationForm"));
    m_compensation->setSerialized(QStringLiteral("eora"));
    m_compareSvd->setObjectName(QStringLiteral("compareSvd"));
    m_compareSvd->setChecked(true);
    m_compareNone->setObjectName(QStringLiteral("compareNone"));
    m_compareNone->setChecked(true);
    m_ranks->setObjectName(QStringLiteral("ranks"));
    m_ranks->setToolTip(tr("Uniform ranks to fit, separated by commas; every rank reuses one "
                           "decomposition per layer"));
}

void RunPanel::setUpEvaluation() {
    m_evalText->setObjectName(QStringLiteral("evalText"));
    m_evalText->setPlaceholderText(tr("Optional: held-out text for perplexity"));
    m_analyze->setObjectName(QStringLiteral("analyze"));
    m_analyze->setChecked(true);
    m_analyze->setToolTip(tr("On large models the analysis costs about as much as the "
                             "compensation. Without it, layers can be analysed later from the "
                             "layer table's context menu."));
}

void RunPanel::setUpRunControls() {
    m_run->setObjectName(QStringLiteral("runButton"));
    m_run->setDefault(true);
    m_cancel->setObjectName(QStringLiteral("runCancelButton"));
    m_progress->setObjectName(QStringLiteral("runProgress"));
    m_progress->setTextVisible(false);
    m_status->setObjectName(QStringLiteral("runStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
}

void RunPanel::layOut() {
    auto* data = new QGroupBox(tr("Calibration"));
    auto* dataForm = new QFormLayout(data);
    dataForm->addRow(tr("Text:"), filePicker(m_calibText, tr("Calibration Text")));
    dataForm->addRow(tr("Budget:"), m_calibTokens);
    dataForm->addRow(tr("Mode:"), m_calibMode);

    auto* compression = new QGroupBox(tr("Compression"));
    (new QVBoxLayout(compression))->addWidget(m_compression);

    auto* compensation = new QGroupBox(tr("Compensation"));
    auto* compLayout = new QVBoxLayout(compensation);
    compLayout->addWidget(m_compensation);
    compLayout->addWidget(m_compareSvd);
    compLayout->addWidget(m_compareNone);
    auto* rankForm = new QFormLayout;
    rankForm->addRow(tr("Ranks:"), m_ranks);
    compLayout->addLayout(rankForm);

    auto* compressPage = new QWidget;
    auto* compressLayout = new QVBoxLayout(compressPage);
    compressLayout->setContentsMargins(0, 0, 0, 0);
    compressLayout->addWidget(compression);
    compressLayout->addWidget(compensation);
    auto* lowRank = new QGroupBox(tr("Low-rank replacement"));
    (new QVBoxLayout(lowRank))->addWidget(m_lowRank);
    m_jobPages->addWidget(compressPage);
    m_jobPages->addWidget(lowRank);

    auto* evaluation = new QGroupBox(tr("Evaluation"));
    auto* evalForm = new QFormLayout(evaluation);
    evalForm->addRow(tr("Text:"), filePicker(m_evalText, tr("Evaluation Text")));
    evalForm->addRow(m_analyze);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);

    auto* jobForm = new QFormLayout;
    jobForm->addRow(tr("Job:"), m_job);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(jobForm);
    layout->addWidget(data);
    layout->addWidget(m_jobPages);
    layout->addWidget(evaluation);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_results);
    layout->addStretch(1);
}

void RunPanel::connectControls() {
    connect(m_job, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_jobPages->setCurrentIndex(index);
        // A low-rank run calibrates on the original model only.
        m_calibMode->setEnabled(job() == Job::Compression);
        inputsChanged();
    });
    connect(m_lowRank, &LowRankOptions::changed, this, &RunPanel::inputsChanged);
    connect(m_run, &QPushButton::clicked, this, &RunPanel::runRequested);
    connect(m_cancel, &QPushButton::clicked, this, &RunPanel::cancelRequested);
    connect(m_calibText, &QLineEdit::textChanged, this, &RunPanel::inputsChanged);
    connect(m_evalText, &QLineEdit::textChanged, this, &RunPanel::inputsChanged);
    connect(m_compression, &MethodForm::changed, this, &RunPanel::inputsChanged);
    connect(m_compensation, &MethodForm::changed, this, &RunPanel::inputsChanged);
    connect(m_ranks, &QLineEdit::textChanged, this, [this] {
        const bool ok = parseRanks(m_ranks->text()).has_value();
        m_ranks->setStyleSheet(ok ? QString() : QStringLiteral("color: #b00020"));
        inputsChanged();
    });
}

void RunPanel::inputsChanged() {
    if (!m_running)
        m_status->clear(); // it spoke of inputs that are no longer those shown
    updateRunEnabled();
}

QWidget* RunPanel::filePicker(QLineEdit* edit, const QString& title) {
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    browse->setToolTip(tr("Choose a file"));
    connect(browse, &QToolButton::clicked, this, [this, edit, title] {
        const QString file =
            QFileDialog::getOpenFileName(this, title, QFileInfo(edit->text()).absolutePath(),
                                         tr("Text files (*.txt *.raw);;All files (*)"));
        if (!file.isEmpty())
            edit->setText(file);
    });
    auto* row = new QWidget;
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    layout->addWidget(browse);
    return row;
}

RunPanel::Job RunPanel::job() const {
    return Job(m_job->currentData().toInt());
}

void RunPanel::setJob(Job job) {
    m_job->setCurrentIndex(m_job->findData(int(job)));
}

std::optional<rs::JobInputs> RunPanel::inputs(QString* problem) const {
    const auto fail = [problem](const QString& why) -> std::optional<rs::JobInputs> {
        if (problem)
            *problem = why;
        return std::nullopt;
    };
    const QString calib = m_calibText->text().trimmed();
    if (calib.isEmpty())
        return fail(tr("Choose a calibration text."));
    if (!QFileInfo(calib).isFile())
        return fail(tr("%1: no such file").arg(calib));
    const QString eval = m_evalText->text().trimmed();
    if (!eval.isEmpty() && !QFileInfo(eval).isFile())
        return fail(tr("%1: no such file").arg(eval));
    rs::JobInputs inputs;
    inputs.calibText = toPath(calib);
    inputs.calibTokens = m_calibTokens->value();
    if (!eval.isEmpty())
        inputs.evalText = toPath(eval);
    // The original model's perplexity is the reference every variant is read against.
    inputs.evaluateBaseline = !eval.isEmpty();
    inputs.analyze = m_analyze->isChecked();
    return inputs;
}

void RunPanel::setInputs(const rs::JobInputs& inputs) {
    m_calibText->setText(fromPath(inputs.calibText));
    m_calibTokens->setValue(int(std::min<int64_t>(inputs.calibTokens, kMaxCalibTokens)));
    m_evalText->setText(fromPath(inputs.evalText));
    m_analyze->setChecked(inputs.analyze);
}

std::optional<rs::LowRankRequest> RunPanel::lowRankRequest(QString* problem) const {
    const auto inputs = this->inputs(problem);
    if (!inputs)
        return std::nullopt;
    rs::LowRankRequest request;
    request.inputs = *inputs;
    if (!m_lowRank->fill(request, problem))
        return std::nullopt;
    return request;
}

std::optional<rs::CompressRequest> RunPanel::request(QString* problem) const {
    const auto fail = [problem](const QString& why) -> std::optional<rs::CompressRequest> {
        if (problem)
            *problem = why;
        return std::nullopt;
    };
    const auto inputs = this->inputs(problem);
    if (!inputs)
        return std::nullopt;
    const auto ranks = parseRanks(m_ranks->text());
    if (!ranks)
        return fail(tr("Ranks must be positive whole numbers separated by commas."));

    rs::CompressRequest request;
    request.inputs = *inputs;
    request.mode = rs::CalibrationMode(m_calibMode->currentData().toInt());
    try {
        request.compression = m_compression->config();
        request.compensations.clear();
        const rs::MethodSpec& none = rs::uncompensated();
        const rs::MethodSpec& svd = rs::plainSvdCompensation();
        if (m_compareNone->isChecked())
            request.compensations.push_back(
                rs::MethodConfig::defaults(none.id, rs::MethodKind::Compensation));
        const rs::MethodConfig chosen = m_compensation->config();
        if (m_compareSvd->isChecked() && &chosen.spec() != &svd)
            request.compensations.push_back(
                rs::MethodConfig::defaults(svd.id, rs::MethodKind::Compensation));
        if (&chosen.spec() != &none || !m_compareNone->isChecked())
            request.compensations.push_back(chosen);
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    request.ranks = *ranks;
    return request;
}

void RunPanel::setRequest(const rs::CompressRequest& request) {
    setJob(Job::Compression);
    setInputs(request.inputs);
    m_calibMode->setCurrentIndex(std::max(0, m_calibMode->findData(int(request.mode))));
    m_compression->setConfig(request.compression);
    // The references (none, plain SVD) go to their check boxes; any other method is the chosen
    // one, and plain SVD only when it ran alone.
    const rs::MethodSpec& noneSpec = rs::uncompensated();
    const rs::MethodSpec& svdSpec = rs::plainSvdCompensation();
    bool none = false;
    const rs::MethodConfig* svd = nullptr;
    const rs::MethodConfig* chosen = nullptr;
    for (const rs::MethodConfig& comp : request.compensations) {
        if (&comp.spec() == &noneSpec)
            none = true;
        else if (&comp.spec() == &svdSpec)
            svd = &comp;
        else
            chosen = &comp;
    }
    if (!chosen)
        chosen = svd;
    if (chosen)
        m_compensation->setConfig(*chosen);
    m_compareSvd->setChecked(svd && chosen != svd);
    m_compareNone->setChecked(none);
    QStringList ranks;
    for (const int64_t rank : request.ranks)
        ranks << QString::number(rank);
    m_ranks->setText(ranks.join(QStringLiteral(", ")));
}

void RunPanel::setLowRankRequest(const rs::LowRankRequest& request) {
    setJob(Job::LowRank);
    setInputs(request.inputs);
    m_lowRank->set(request);
}

void RunPanel::setCalibText(const QString& path) {
    m_calibText->setText(path);
}
void RunPanel::setEvalText(const QString& path) {
    m_evalText->setText(path);
}
void RunPanel::setRanks(const QString& ranks) {
    m_ranks->setText(ranks);
}
void RunPanel::setCalibTokens(int tokens) {
    m_calibTokens->setValue(tokens);
}

void RunPanel::setModelLoaded(bool loaded) {
    m_modelLoaded = loaded;
    updateRunEnabled();
}

void RunPanel::setRunning(bool running) {
    m_running = running;
    m_cancel->setVisible(running);
    m_cancel->setEnabled(running);
    m_progress->setVisible(running);
    if (running) {
        m_progress->setRange(0, 0);
        m_status->setText(tr("Starting…"));
    }
    updateRunEnabled();
}

void RunPanel::setOtherJobRunning(bool running) {
    m_otherJob = running;
    updateRunEnabled();
}

void RunPanel::updateRunEnabled() {
    const bool lowRank = job() == Job::LowRank;
    const bool sizesValid = lowRank ? m_lowRank->valid() : parseRanks(m_ranks->text()).has_value();
    m_run->setEnabled(m_modelLoaded && !m_running && !m_otherJob &&
                      !m_calibText->text().trimmed().isEmpty() && sizesValid);
    if (!m_modelLoaded)
        m_run->setToolTip(tr("Open a model first"));
    else if (m_otherJob)
        m_run->setToolTip(tr("Another job is running: run when it has finished"));
    else if (lowRank)
        m_run->setToolTip(tr("Calibrate, replace the selected linears by factor pairs (trained "
                             "by local distillation with Lillama) and evaluate; the run is "
                             "recorded as an experiment"));
    else
        m_run->setToolTip(tr("Calibrate, compress, compensate at every rank and evaluate; the "
                             "run is recorded as an experiment"));
}

void RunPanel::showProgress(const QString& stage, qint64 done, qint64 total, const QString& detail,
                            qint64 stageElapsedMs) {
    if (total > 0 && total <= std::numeric_limits<int>::max()) {
        m_progress->setRange(0, int(total));
        m_progress->setValue(int(std::min(done, total)));
    } else {
        m_progress->setRange(0, 0);
    }
    // A percentage: the detail carries the counts that mean something ("block 3/22: evaluate
    // eora@8, window 40/93"), the steps behind the bar do not.
    QString text =
        total > 0 ? tr("%1 %2%").arg(stage).arg(100 * std::min(done, total) / total) : stage;
    if (!detail.isEmpty())
        text += tr(" — %1").arg(detail);
    if (stage != m_progressStage) {
        m_progressStage = stage;
        m_timeLeft.restart();
    }
    const qint64 left = m_timeLeft.update(done, total, stageElapsedMs);
    if (left > 0)
        text += tr(" (about %1 left)").arg(formatDuration(left));
    m_status->setText(text);
}

void RunPanel::showMessage(const QString& message) {
    m_status->setText(message);
}

void RunPanel::saveSettings() const {
    QSettings settings;
    settings.beginGroup(kSettingsGroup);
    settings.setValue(QStringLiteral("calibText"), m_calibText->text());
    settings.setValue(QStringLiteral("calibTokens"), m_calibTokens->value());
    settings.setValue(QStringLiteral("calibMode"), m_calibMode->currentIndex());
    settings.setValue(QStringLiteral("compression"), m_compression->serialized());
    settings.setValue(QStringLiteral("compensation"), m_compensation->serialized());
    settings.setValue(QStringLiteral("compareSvd"), m_compareSvd->isChecked());
    settings.setValue(QStringLiteral("compareNone"), m_compareNone->isChecked());
    settings.setValue(QStringLiteral("ranks"), m_ranks->text());
    settings.setValue(QStringLiteral("evalText"), m_evalText->text());
    settings.setValue(QStringLiteral("analyze"), m_analyze->isChecked());
    settings.setValue(QStringLiteral("job"), m_job->currentIndex());
    m_lowRank->saveSettings(settings);
}

void RunPanel::restoreSettings() {
    QSettings settings;
    settings.beginGroup(kSettingsGroup);
    if (!settings.contains(QStringLiteral("ranks")))
        return;
    m_calibText->setText(settings.value(QStringLiteral("calibText")).toString());
    m_calibTokens->setValue(settings.value(QStringLiteral("calibTokens")).toInt());
    m_calibMode->setCurrentIndex(settings.value(QStringLiteral("calibMode")).toInt());
    m_compression->setSerialized(settings.value(QStringLiteral("compression")).toString());
    m_compensation->setSerialized(settings.value(QStringLiteral("compensation")).toString());
    m_compareSvd->setChecked(settings.value(QStringLiteral("compareSvd")).toBool());
    m_compareNone->setChecked(settings.value(QStringLiteral("compareNone")).toBool());
    m_ranks->setText(settings.value(QStringLiteral("ranks")).toString());
    m_evalText->setText(settings.value(QStringLiteral("evalText")).toString());
    m_analyze->setChecked(settings.value(QStringLiteral("analyze"), true).toBool());
    m_job->setCurrentIndex(settings.value(QStringLiteral("job"), 0).toInt());
    m_lowRank->restoreSettings(settings);
}

} // namespace rs::ui
