#pragma once

#include "args.h"

#include <filesystem>

namespace rs::cli {

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
