#include "io/atomicfile.h"

#include "util/error.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace rs {

namespace {

constexpr size_t kBufferBytes = size_t(1) << 20;

std::string errnoText(const char* what, int err) {
    return std::string(what) + " (" + std::strerror(err) + ")";
}

} // namespace

AtomicFile::AtomicFile(std::filesystem::path target)
    : m_target(std::move(target)) {
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path dir = m_target.parent_path().empty() ? "." : m_target.parent_path();
    // A hidden sibling: same filesystem, so rename() is atomic; unique per process and call.
    for (int attempt = 0; attempt < 100 && m_fd < 0; ++attempt) {
        m_temp = dir / ("." + m_target.filename().string() + ".tmp." + std::to_string(::getpid()) +
                        "." + std::to_string(counter++));
        m_fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (m_fd < 0 && errno != EEXIST)
            fail(m_target.string(), errnoText("cannot create a temporary file", errno));
    }
    if (m_fd < 0)
        fail(m_target.string(), "cannot create a unique temporary file");
    m_buffer.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
    if (m_fd >= 0)
        ::close(m_fd);
    if (!m_finished)
        ::unlink(m_temp.c_str());
}

void AtomicFile::abandon(const std::string& problem) {
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
    ::unlink(m_temp.c_str());
    m_finished = true; // nothing left for the destructor to clean up
    fail(m_target.string(), problem);
}

void AtomicFile::writeAll(const std::byte* data, size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(m_fd, data, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abandon(errnoText("write failed", errno));
        }
        if (n == 0)
            abandon("write failed (no progress)");
        data += n;
        size -= static_cast<size_t>(n);
    }
}

void AtomicFile::flush() {
    writeAll(m_buffer.data(), m_buffer.size());
    m_buffer.clear();
}

void AtomicFile::write(const void* data, size_t size) {
    if (m_fd < 0)
        fail(m_target.string(), "write after the file was closed");
    const auto* bytes = static_cast<const std::byte*>(data);
    m_written += size;
    if (m_buffer.size() + size <= kBufferBytes) {
        m_buffer.insert(m_buffer.end(), bytes, bytes + size);
        return;
    }
    flush();
    if (size >= kBufferBytes)
        writeAll(bytes, size); // large tensors go straight through
    else
        m_buffer.insert(m_buffer.end(), bytes, bytes + size);
}

void AtomicFile::commit() {
    if (m_fd < 0)
        fail(m_target.string(), "commit after the file was closed");
    flush();
    // Delayed allocation means a full disk may only show up here, so both results matter.
    if (::fsync(m_fd) != 0)
        abandon(errnoText("fsync failed", errno));
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(m_temp.c_str());
        m_finished = true;
        fail(m_target.string(), errnoText("close failed", err));
    }
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
        const int err = errno;
        ::unlink(m_temp.c_str());
        m_finished = true;
        fail(m_target.string(), errnoText("cannot rename the temporary file over it", err));
    }
    m_finished = true;
    const std::filesystem::path dir = m_target.parent_path().empty() ? "." : m_target.parent_path();
    const int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd < 0)
        fail(m_target.string(), errnoText("written, but cannot open its directory to sync", errno));
    const int syncResult = ::fsync(dirFd);
    const int err = errno;
    ::close(dirFd);
    if (syncResult != 0 && err != EINVAL) // some filesystems cannot fsync directories
        fail(m_target.string(), errnoText("written, but syncing its directory failed", err));
}

void writeFileAtomically(const std::filesystem::path& path, std::string_view content) {
    AtomicFile file(path);
    file.write(content);
    file.commit();
}

} // namespace rs
