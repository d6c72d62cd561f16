#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace rs {

// Every failure the user can cause (bad file, bad argument, bad numbers) is reported as an Error
// whose message names the thing at fault and the problem, e.g.
//   "model.safetensors: header length 9e18 exceeds the file size (1040000 bytes)".
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Raised when a job notices that it was cancelled; callers treat it as a clean stop, not a failure.
class CancelledError : public Error {
public:
    CancelledError()
        : Error("cancelled") {}
};

// Builds "<subject>: <problem>" and throws it as rs::Error.
[[noreturn]] void fail(std::string_view subject, std::string_view problem);

} // namespace rs
