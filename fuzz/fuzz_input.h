#pragma once

// Helpers shared by the fuzz targets: a scratch directory per process for parsers that only take
// paths, and the rule that rs::Error is a parser's normal way to refuse an input. Any other
// exception escapes to libFuzzer, which reports it as a crash.

#include "util/error.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace rs::fuzz {

// /dev/shm/rankscope-fuzz-<pid>: in memory, so that writing every input costs little; one per
// process because libFuzzer's -fork/-jobs run several at once; scripts/fuzz.sh removes it.
inline const std::filesystem::path& scratchDir() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path base = "/dev/shm";
        std::error_code ec;
        if (!std::filesystem::is_directory(base, ec))
            base = std::filesystem::temp_directory_path();
        auto path = base / ("rankscope-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(path);
        return path;
    }();
    return dir;
}

// Writes `bytes` to `name` (relative to `dir`) and returns its path.
inline std::filesystem::path writeFile(const std::filesystem::path& dir, const std::string& name,
                                       std::string_view bytes) {
    const auto path = dir / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}

inline std::filesystem::path writeScratch(const std::string& name, const uint8_t* data,
                                          size_t size) {
    return writeFile(scratchDir(), name,
                     std::string_view(reinterpret_cast<const char*>(data), size));
}

inline std::string_view text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse`, accepting a documented refusal (rs::Error) as a normal outcome.
template <typename Parse> void acceptRefusal(Parse&& parse) {
    try {
        parse();
    } catch (const rs::Error&) {
    }
}

} // namespace rs::fuzz
