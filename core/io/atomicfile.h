#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace rs {

// Writes a file so that readers only ever see the old content or the complete new one: data goes
// to a temporary file in the target's directory, which commit() fsyncs and renames over the
// target (then fsyncs the directory so the rename survives a crash). If commit() is not reached,
// or anything fails, the temporary file is removed and the target is left as it was. Every error
// (disk full, no permission, ...) is "<target>: <problem>".
class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path target);
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    void write(const void* data, size_t size);
    void write(std::string_view text) { write(text.data(), text.size()); }
    void commit();

    const std::filesystem::path& target() const { return m_target; }
    uint64_t bytesWritten() const { return m_written; }

private:
    void flush();
    void writeAll(const std::byte* data, size_t size);
    [[noreturn]] void abandon(const std::string& problem);

    std::filesystem::path m_target;
    std::filesystem::path m_temp;
    int m_fd = -1;
    bool m_finished = false; // committed or abandoned: the temporary file is gone
    uint64_t m_written = 0;
    std::vector<std::byte> m_buffer; // batches the many small writes of a checkpoint header
};

// Convenience for small files (JSON configs, index files).
void writeFileAtomically(const std::filesystem::path& path, std::string_view content);

} // namespace rs
