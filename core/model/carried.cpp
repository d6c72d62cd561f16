#include "model/carried.h"

#include "util/error.h"
#include "util/memory.h"
#include "util/text.h"

#include <ATen/ATen.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/mman.h>
#include <unistd.h>
#include <utility>

namespace rs {

namespace {

namespace fs = std::filesystem;

// A zero-filled, already unlinked file of `bytes` under `dir`, mapped read-write.
void* mapSpillFile(const fs::path& dir, int64_t bytes, const std::string& what) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string pattern = (dir / "rankscope-spill-XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0)
        fail(dir.string(),
             "cannot create a spill file for the " + what + " (" + std::strerror(errno) + ")");
    ::unlink(pattern.c_str()); // gone with the last reference: the mapping below
    if (const int err = ::posix_fallocate(fd, 0, bytes); err != 0) {
        ::close(fd);
        const fs::space_info space = fs::space(dir, ec);
        fail(dir.string(), "cannot spill the " + what + ": " + formatBytes(uint64_t(bytes)) +
                               " needed, " +
                               (ec ? std::string("unknown") : formatBytes(space.available)) +
                               " free (" + std::strerror(err) +
                               "); free disk space, point RANKSCOPE_CACHE elsewhere or raise "
                               "--max-memory");
    }
    void* map =
        ::mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);
    if (map == MAP_FAILED)
        fail(dir.string(),
             "cannot map the spill file for the " + what + " (" + std::strerror(err) + ")");
    return map;
}

} // namespace

CarriedStates::CarriedStates(const std::vector<int64_t>& shape, const at::TensorOptions& options,
                             const JobContext& job, const std::string& what)
    : m_budget(job.memory) {
    int64_t numel = 1;
    for (int64_t d : shape)
        numel *= d;
    m_bytes = numel * static_cast<int64_t>(options.dtype().itemsize());
    // Device memory is not spilled: a GPU run's carried states are bounded by the device.
    if (m_budget && (!options.device().is_cpu() || m_bytes == 0))
        m_budget.reset();
    if (!m_budget || m_budget->claim(m_bytes)) {
        m_tensor = at::empty(shape, options);
        return;
    }
    const fs::path dir =
        m_budget->spillDir.empty() ? fs::temp_directory_path() : m_budget->spillDir;
    void* map = mapSpillFile(dir, m_bytes, what);
    const auto length = static_cast<size_t>(m_bytes);
    m_tensor = at::from_blob(
        map, shape, [length](void* p) { ::munmap(p, length); }, options);
    m_spilled = true;
    m_budget->spilledBytes += m_bytes;
    m_budget->spilledTotal += m_bytes;
    ++m_budget->spillFiles;
}

CarriedStates::CarriedStates(CarriedStates&& other) noexcept
    : m_tensor(std::move(other.m_tensor))
    , m_budget(std::move(other.m_budget))
    , m_bytes(std::exchange(other.m_bytes, 0))
    , m_spilled(std::exchange(other.m_spilled, false)) {}

CarriedStates& CarriedStates::operator=(CarriedStates&& other) noexcept {
    if (this != &other) {
        release();
        m_tensor = std::move(other.m_tensor);
        m_budget = std::move(other.m_budget);
        m_bytes = std::exchange(other.m_bytes, 0);
        m_spilled = std::exchange(other.m_spilled, false);
    }
    return *this;
}

CarriedStates::~CarriedStates() {
    release();
}

void CarriedStates::release() noexcept {
    m_tensor = at::Tensor();
    if (m_budget && m_bytes > 0) {
        if (m_spilled)
            m_budget->spilledBytes -= m_bytes;
        else
            m_budget->release(m_bytes);
    }
    m_budget.reset();
    m_bytes = 0;
    m_spilled = false;
}

} // namespace rs
