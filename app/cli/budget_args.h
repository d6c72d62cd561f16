#pragma once

#include "args.h"
#include "budget/constraints.h"
#include "budget/weights.h"

#include <vector>

// Options shared by `plan` and `tradeoff`: rank constraints and layer weights.
namespace rs::cli {

std::vector<OptionSpec> constraintOptions();
PlanConstraints parseConstraints(const ParsedArgs& args);
// --weights, or `fallback` when it is not given.
LayerWeighting parseWeights(const ParsedArgs& args, const std::string& fallback);
// "sum of relative output errors", ... : what the objective of a weighting adds up.
const char* objectiveName(LayerWeighting weighting);

} // namespace rs::cli
