#include "util/error.h"

namespace rs {

void fail(std::string_view subject, std::string_view problem) {
    std::string message;
    message.reserve(subject.size() + problem.size() + 2);
    message.append(subject).append(": ").append(problem);
    throw Error(message);
}

} // namespace rs
