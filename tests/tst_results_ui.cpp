// What the workbench shows about results, on hand-made records: a run's perplexity table, the
// experiment headline, the export dialog's defaults and warnings, and the time-left estimate.
#include "experimentloader.h"
#include "export/export_job.h"
#include "exportdialog.h"
#include "runresults.h"
#include "timeleft.h"

#include <QComboBox>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QTest>
#include <cmath>

using rs::ui::ExportDialog;
using rs::ui::LoadedExperiment;
using rs::ui::RunResults;
using rs::ui::TimeLeft;

namespace {

rs::VariantRecord variant(int index, const std::string& compensation, int64_t rank,
                          int64_t adapter) {
    rs::VariantRecord v;
    v.index = index;
    v.compensation = compensation;
    v.rank = rank;
    v.label = compensation + "@" + std::to_string(rank);
    if (compensation == "none")
        v.label = "none";
    v.adapterParameters = adapter;
    return v;
}

rs::EvaluationRecord evaluation(std::optional<int> variant, double perplexity) {
    rs::EvaluationRecord e;
    e.variant = variant;
    e.perplexity = perplexity;
    return e;
}

// An experiment with the original model, none, svd@8 and eora@8 evaluated.
LoadedExperiment evaluatedExperiment() {
    LoadedExperiment loaded;
    loaded.id = 7;
    loaded.experiment.id = 7;
    loaded.experiment.name = "rtn3";
    loaded.experiment.compression = "rtn:bits=3,group=32";
    loaded.experiment.compensations = {"none", "svd", "eora"};
    loaded.experiment.status = rs::ExperimentStatus::Done;
    loaded.variants = {variant(0, "none", 0, 0), variant(1, "svd", 8, 46240),
                       variant(2, "eora", 8, 46240)};
    loaded.evaluations = {evaluation(std::nullopt, 10.0), evaluation(0, 20.0), evaluation(1, 16.0),
                          evaluation(2, 12.5)};
    return loaded;
}

} // namespace

class TestResultsUi : public QObject {
    Q_OBJECT

private slots:
    void runResultsListEveryModel();
    void runResultsSayWhenNothingWasEvaluated();
    void exportDefaultsToTheBestVariant();
    void exportWarnsWhenGptqKeepsLayersDense();
    void timeLeftDoesNotSwing();
};

void TestResultsUi::runResultsListEveryModel() {
    RunResults results;
    const LoadedExperiment loaded = evaluatedExperiment();
    results.showExperiment(loaded);
    QVERIFY(!results.isHidden());
    QCOMPARE(results.titleLabel()->text(),
             QStringLiteral("Experiment 7 “rtn3” · rtn:bits=3, group=32 + none; svd; eora · done"));
    QTableWidget* table = results.table();
    QCOMPARE(table->rowCount(), 4);
    QCOMPARE(table->item(0, 0)->text(), QStringLiteral("original model"));
    QCOMPARE(table->item(0, 1)->text(), QStringLiteral("10.000"));
    QVERIFY(table->item(0, 2)->text().isEmpty()); // no change against itself
    QCOMPARE(table->item(1, 0)->text(), QStringLiteral("none"));
    QCOMPARE(table->item(1, 2)->text(), QStringLiteral("0.0 %"));
    QCOMPARE(table->item(3, 0)->text(), QStringLiteral("eora@8"));
    QCOMPARE(table->item(3, 1)->text(), QStringLiteral("12.500"));
    QCOMPARE(table->item(3, 2)->text(), QLocale().toString(-37.5, 'f', 1) + QStringLiteral(" %"));
    QCOMPARE(table->item(3, 3)->text(), QLocale().toString(46240));
    results.clear();
    QVERIFY(results.isHidden());
}

void TestResultsUi::runResultsSayWhenNothingWasEvaluated() {
    RunResults results;
    LoadedExperiment loaded = evaluatedExperiment();
    loaded.evaluations.clear();
    results.showExperiment(loaded);
    QCOMPARE(results.table()->rowCount(), 1);
    QVERIFY(results.table()->item(0, 0)->text().startsWith(QStringLiteral("not evaluated")));
}

void TestResultsUi::exportDefaultsToTheBestVariant() {
    const LoadedExperiment loaded = evaluatedExperiment();
    ExportDialog::Choices choices;
    choices.variants = loaded.variants;
    choices.evaluations = loaded.evaluations;
    choices.linearCount = 35;
    {
        ExportDialog dialog(7, choices);
        QCOMPARE(dialog.variantBox()->count(), 2); // none fits no factors
        QCOMPARE(dialog.variantBox()->currentData().toString(), QStringLiteral("eora@8"));
        QCOMPARE(dialog.variantBox()->currentText(),
                 QStringLiteral("eora@8 — perplexity 12.500, %1 adapter params")
                     .arg(QLocale().toString(46240)));
        QCOMPARE(dialog.formatBox()->currentData().toString(), QStringLiteral("gptq+peft"));
        QVERIFY(dialog.warning().isEmpty());
    }
    // The lowest perplexity wins, whatever the method.
    choices.evaluations[3].perplexity = 17.0;
    ExportDialog dialog(7, choices);
    QCOMPARE(dialog.variantBox()->currentData().toString(), QStringLiteral("svd@8"));
}

void TestResultsUi::exportWarnsWhenGptqKeepsLayersDense() {
    ExportDialog::Choices choices;
    choices.variants = evaluatedExperiment().variants;
    choices.linearCount = 35;
    choices.gptqDense = {{"model.layers.0.mlp.down_proj", "d_in = 172 is not a multiple of 32"}};
    ExportDialog dialog(7, choices);
    QCOMPARE(dialog.formatBox()->currentData().toString(), QStringLiteral("merged"));
    QVERIFY(dialog.warning().isEmpty());
    dialog.formatBox()->setCurrentIndex(dialog.formatBox()->findData(QStringLiteral("gptq+peft")));
    QCOMPARE(dialog.warning(),
             QStringLiteral("1 of 35 linears stay dense in GPTQ format "
                            "(model.layers.0.mlp.down_proj: d_in = 172 is not a multiple of 32), "
                            "so this export may be larger than the original model. Merged or "
                            "GGUF exports keep every layer compact."));
    auto* label = dialog.findChild<QLabel*>(QStringLiteral("exportWarning"));
    QVERIFY(label && !label->isHidden());
}

// 100 units at 100 ms each, every fifth ten times slower: the raw estimate jumps at each slow
// unit, the shown one changes little between updates and ends near the truth.
void TestResultsUi::timeLeftDoesNotSwing() {
    TimeLeft left;
    QCOMPARE(left.update(0, 100, 0), qint64(-1));
    qint64 elapsed = 0, previous = -1;
    double largestJump = 0.0, largestRawJump = 0.0, previousRaw = -1.0;
    for (qint64 done = 1; done < 100; ++done) {
        const qint64 step = done % 5 == 0 ? 1000 : 100;
        elapsed += step;
        const qint64 shown = left.update(done, 100, elapsed);
        const double raw = double(elapsed) * double(100 - done) / double(done);
        if (elapsed < TimeLeft::kWarmUpMs) {
            QCOMPARE(shown, qint64(-1));
            continue;
        }
        QVERIFY(shown >= 0);
        if (previous >= 0) {
            // Measured against the countdown since the previous update.
            largestJump = std::max(largestJump, std::abs(double(shown - (previous - step))));
            largestRawJump = std::max(largestRawJump, std::abs(raw - (previousRaw - double(step))));
        }
        previous = shown;
        previousRaw = raw;
    }
    QVERIFY2(largestJump < 0.5 * largestRawJump,
             qPrintable(QStringLiteral("%1 vs %2").arg(largestJump).arg(largestRawJump)));
    QCOMPARE(left.update(100, 100, elapsed + 100), qint64(0));
    // A new stage starts without an estimate.
    left.restart();
    QCOMPARE(left.update(1, 10, 100), qint64(-1));
}

QTEST_MAIN(TestResultsUi)
#include "tst_results_ui.moc"
