#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

namespace rs {

// A whole file mapped read-only into memory, so that multi-gigabyte checkpoints are paged in on
// demand instead of being read up front. Move-only; unmaps on destruction, so nothing may keep
// pointers into data() beyond the object's lifetime.
class MappedFile {
public:
    // Fails with "<path>: cannot open (<reason>)" or "<path>: not a regular file".
    static MappedFile open(const std::filesystem::path& path);

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const std::filesystem::path& path() const { return m_path; }
    const std::byte* data() const { return m_data; }
    uint64_t size() const { return m_size; }
    std::span<const std::byte> bytes() const { return {m_data, static_cast<size_t>(m_size)}; }

    // Lets the kernel drop the pages of [offset, offset + length) from this process's resident
    // set (they are read again from the file on the next access). Streaming engines call it when
    // a block's weights are no longer needed, so that resident memory is bounded by one block.
    void releasePages(uint64_t offset, uint64_t length) const noexcept;
    // Fails with "<path>: changed on disk after it was opened (...)" when the file is now shorter
    // than the mapping: touching the missing pages would raise SIGBUS instead of an error.
    void checkNotTruncated() const;

private:
    void release() noexcept;

    std::filesystem::path m_path;
    const std::byte* m_data = nullptr;
    uint64_t m_size = 0;
    int m_fd = -1; // kept open so that truncation is seen on this very file, not a replacement
};

} // namespace rs
