#include "store/records.h"

#include <array>

namespace rs {

namespace {

constexpr std::array<const char*, 5> kStatusNames{"running", "done", "failed", "cancelled",
                                                  "interrupted"};
constexpr std::array<const char*, 2> kKindNames{"compress", "lowrank"};

// The enumerator whose name is `name` in `names` (indexed like the enum), if any.
template <typename Enum, size_t N>
std::optional<Enum> parseName(const std::array<const char*, N>& names, const std::string& name) {
    for (size_t i = 0; i < N; ++i)
        if (name == names[i])
            return static_cast<Enum>(i);
    return std::nullopt;
}

} // namespace

const char* statusName(ExperimentStatus status) {
    return kStatusNames[static_cast<size_t>(status)];
}

std::optional<ExperimentStatus> parseStatus(const std::string& name) {
    return parseName<ExperimentStatus>(kStatusNames, name);
}

const char* experimentKindName(ExperimentKind kind) {
    return kKindNames[static_cast<size_t>(kind)];
}

std::optional<ExperimentKind> parseExperimentKind(const std::string& name) {
    return parseName<ExperimentKind>(kKindNames, name);
}

} // namespace rs
