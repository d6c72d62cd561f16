#pragma once

#include "error.h"

#include <string>
#include <string_view>

namespace rs {

// A value the user chose (a device, a pattern, a budget, a rank, a variant, a window length) that
// cannot be used, as opposed to a failure of the work on good values: front ends report it as a
// mistake in the call (rankscope-cli exits with 2).
class ArgumentError : public Error {
public:
    using Error::Error;
};

// Builds "<subject>: <problem>" and throws it as an ArgumentError.
[[noreturn]] inline void failArgument(std::string_view subject, std::string_view problem) {
    throw ArgumentError(std::string(subject) + ": " + std::string(problem));
}

} // namespace rs
