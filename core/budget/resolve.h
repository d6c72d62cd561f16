#pragma once

#include "budget/planner.h"
#include "budget/units.h"

namespace rs {

class MethodConfig;

// How a compression method of the registry stores its weights: the bits and group of RTN and
// GPTQ (and of pruning followed by quantization); 16-bit dense otherwise (pruned weights are
// counted dense: no sparse format is assumed).
WeightFormat weightFormatOf(const MethodConfig& compression);

// The budget in adapter parameters. A uniform-rank budget takes what planner.uniform(rank)
// spends (so it respects the same constraints). Fails for budgets the units cannot express.
int64_t budgetParameters(const BudgetSpec& budget, const RankPlanner& planner,
                         const SizeModel& size);

} // namespace rs
