#include "util/file_kind.h"

#include "util/error.h"

namespace rs {

namespace fs = std::filesystem;

std::string notARegularFile(const fs::path& path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    switch (status.type()) {
    case fs::file_type::regular:
        return "";
    case fs::file_type::not_found:
        return "no such file";
    case fs::file_type::directory:
        return "is a directory";
    case fs::file_type::fifo:
        return "is a named pipe (FIFO)";
    case fs::file_type::block:
    case fs::file_type::character:
        return "is a device";
    case fs::file_type::socket:
        return "is a socket";
    default:
        return ec ? "cannot be read (" + ec.message() + ")" : "is not a regular file";
    }
}

void requireRegularFile(const fs::path& path, std::string_view what) {
    const std::string problem = notARegularFile(path);
    if (problem.empty())
        return;
    if (problem == "no such file")
        fail(path.string(), "no such " + std::string(what));
    fail(path.string(), problem + ", not a " + std::string(what));
}

} // namespace rs
