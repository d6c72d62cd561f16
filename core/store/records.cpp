#include "store/records.h"

#include <array>

namespace rs {

namespace {

constexpr std::array<const char*, 5> kStatusNames{"running", "done", "failed", "cancelled",
                                                  "interrupted"};

} // namespace

const char* statusName(ExperimentStatus status) {
    return kStatusNames[static_cast<size_t>(status)];
}

std::optional<ExperimentStatus> parseStatus(const std::string& name) {
    for (size_t i = 0; i < kStatusNames.size(); ++i)
        if (name == kStatusNames[i])
            return static_cast<ExperimentStatus>(i);
    return std::nullopt;
}

} // namespace rs
