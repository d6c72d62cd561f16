#pragma once

#include "args.h"
#include "pipeline/job_inputs.h"

#include <filesystem>

namespace rs::cli {

// Options several commands take, with one help text each.
inline const OptionSpec kCalib{"--calib", "FILE", "calibration text (never the evaluation text)"};
inline const OptionSpec kCalibTokens{"--calib-tokens", "N",
                                     "calibration token budget (default 16384, 0: all)"};
inline const OptionSpec kInclude{"--include", "REGEX",
                                 "only layers whose name matches (repeatable)"};
inline const OptionSpec kExclude{"--exclude", "REGEX",
                                 "skip layers whose name matches (repeatable)"};
inline const OptionSpec kEvalText{"--eval", "FILE", "evaluation text: perplexity of every variant"};
inline const OptionSpec kMaxWindows{"--max-windows", "N", "evaluate at most N windows"};
inline const OptionSpec kBaseline{"--baseline", "", "also evaluate the original model"};
inline const OptionSpec kNoAnalysis{"--no-analysis", "", "skip spectra and error curves"};
inline const OptionSpec kNoStore{"--no-store", "", "do not record the run in the experiment store"};
inline const OptionSpec kName{"--name", "TEXT", "name of the recorded experiment"};

// The inputs `compress` and `lowrank` share: calibration text and budget, layer selection,
// evaluation text and windows, baseline and analysis. `command` names the command that needs
// --calib.
inline JobInputs readJobInputs(const ParsedArgs& args, const std::string& command) {
    JobInputs inputs;
    const auto calib = args.value("--calib");
    if (!calib)
        throw UsageError("'" + command + "' needs --calib FILE");
    // Absolute, so that the stored experiment can be re-run from anywhere.
    inputs.calibText = std::filesystem::weakly_canonical(*calib);
    inputs.calibTokens = args.integer("--calib-tokens").value_or(inputs.calibTokens);
    if (inputs.calibTokens < 0)
        throw UsageError("--calib-tokens must not be negative");
    inputs.layers.include = args.values("--include");
    inputs.layers.exclude = args.values("--exclude");
    if (const auto eval = args.value("--eval"))
        inputs.evalText = std::filesystem::weakly_canonical(*eval);
    inputs.eval.maxWindows = positiveInteger(args, "--max-windows").value_or(0);
    inputs.evaluateBaseline = args.flag("--baseline");
    inputs.analyze = !args.flag("--no-analysis");
    return inputs;
}

} // namespace rs::cli
