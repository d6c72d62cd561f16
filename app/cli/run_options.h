#pragma once

#include "args.h"

#include <filesystem>

namespace rs::cli {

// Options several commands take, with one help text each.
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

// The options `compress` and `lowrank` share: layer selection, evaluation text and windows,
// baseline and analysis. Request is CompressRequest or LowRankRequest (same member names).
template <typename Request> void readLayerRunOptions(const ParsedArgs& args, Request& request) {
    request.layers.include = args.values("--include");
    request.layers.exclude = args.values("--exclude");
    if (const auto eval = args.value("--eval"))
        request.evalText = std::filesystem::weakly_canonical(*eval);
    request.eval.maxWindows = args.integer("--max-windows").value_or(0);
    request.evaluateBaseline = args.flag("--baseline");
    request.analyze = !args.flag("--no-analysis");
}

} // namespace rs::cli
