#include "io/mappedfile.h"

#include "util/error.h"
#include "util/file_kind.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace rs {

MappedFile MappedFile::open(const std::filesystem::path& path) {
    const std::string name = path.string();
    // A FIFO would block open() until a writer comes: say what the path is instead.
    if (const std::string problem = notARegularFile(path);
        !problem.empty() && problem != "no such file") // open() names a missing file below
        fail(name, problem + ", not a regular file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fail(name, std::string("cannot open (") + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail(name, std::string("cannot stat (") + std::strerror(err) + ")");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(name, "not a regular file");
    }
    MappedFile file;
    file.m_path = path;
    file.m_size = static_cast<uint64_t>(st.st_size);
    if (file.m_size > 0) { // mmap rejects length 0; an empty file simply has no bytes
        void* map = ::mmap(nullptr, file.m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(name, std::string("cannot map into memory (") + std::strerror(err) + ")");
        }
        file.m_data = static_cast<const std::byte*>(map);
    }
    file.m_fd = fd;
    return file;
}

void MappedFile::releasePages(uint64_t offset, uint64_t length) const noexcept {
    if (!m_data || offset >= m_size)
        return;
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    // Only whole pages inside the range: a shared edge page may still be in use by a neighbour.
    const uint64_t first = (offset + page - 1) / page * page;
    const uint64_t last = std::min(offset + length, m_size) / page * page;
    if (last > first)
        ::madvise(const_cast<std::byte*>(m_data) + first, last - first, MADV_DONTNEED);
}

void MappedFile::checkNotTruncated() const {
    if (m_fd < 0)
        return;
    struct stat st {};
    if (::fstat(m_fd, &st) != 0)
        fail(m_path.string(), std::string("cannot stat (") + std::strerror(errno) + ")");
    if (static_cast<uint64_t>(st.st_size) < m_size)
        fail(m_path.string(), "changed on disk after it was opened (" + std::to_string(st.st_size) +
                                  " bytes now, " + std::to_string(m_size) +
                                  " when opened): reopen the model");
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_path(std::move(other.m_path))
    , m_data(std::exchange(other.m_data, nullptr))
    , m_size(std::exchange(other.m_size, 0))
    , m_fd(std::exchange(other.m_fd, -1)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        m_path = std::move(other.m_path);
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

MappedFile::~MappedFile() {
    release();
}

void MappedFile::release() noexcept {
    if (m_data)
        ::munmap(const_cast<std::byte*>(m_data), m_size);
    if (m_fd >= 0)
        ::close(m_fd);
    m_data = nullptr;
    m_size = 0;
    m_fd = -1;
}

} // namespace rs
