#include "budget/resolve.h"

#include "methods/registry.h"

#include <cmath>

namespace rs {

WeightFormat weightFormatOf(const MethodConfig& compression) {
    WeightFormat format;
    if (!compression.spec().param("bits") || !compression.spec().param("group"))
        return format;
    const int64_t bits = compression.integer("bits");
    if (bits > 0 && bits < 16) {
        format.bits = int(bits);
        format.group = compression.integer("group");
    }
    return format;
}

int64_t budgetParameters(const BudgetSpec& budget, const RankPlanner& planner,
                         const SizeModel& size) {
    switch (budget.unit) {
    case BudgetSpec::Unit::Parameters:
        return int64_t(budget.value);
    case BudgetSpec::Unit::Percent:
        return size.parametersForPercent(budget.value);
    case BudgetSpec::Unit::BitsPerWeight:
        return size.parametersForBitsPerWeight(budget.value);
    case BudgetSpec::Unit::UniformRank:
        return planner.uniform(int64_t(budget.value)).parameters;
    }
    return 0;
}

} // namespace rs
