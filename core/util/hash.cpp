#include "util/hash.h"

#include "util/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rs {

namespace {

constexpr size_t kBlockBytes = size_t(4) << 20;

std::string errnoText(const char* what, int err) {
    return std::string(what) + " (" + std::strerror(err) + ")";
}

std::string toHex(const unsigned char* bytes, size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[bytes[i] >> 4];
        out[2 * i + 1] = kDigits[bytes[i] & 0xf];
    }
    return out;
}

bool isSha256Hex(const std::string& text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// Closes a file descriptor on every path out of a scope.
struct FdGuard {
    int fd = -1;
    ~FdGuard() {
        if (fd >= 0)
            ::close(fd);
    }
};

std::string hashMemoized(const std::filesystem::path& file, const KnownHashFn& known,
                         const RememberHashFn& remember, const JobContext& job) {
    std::error_code error;
    std::filesystem::path canonical = std::filesystem::canonical(file, error);
    if (error)
        canonical = std::filesystem::absolute(file);
    const FileStamp before = fileStamp(canonical);
    if (known) {
        if (std::optional<std::string> hash = known(canonical, before); hash && isSha256Hex(*hash))
            return *hash;
    }
    std::string hash = sha256File(canonical, job);
    if (!(fileStamp(canonical) == before))
        fail(file.string(), "changed while it was being hashed");
    if (remember)
        remember(canonical, before, hash);
    return hash;
}

} // namespace

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;

    void init() {
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1)
            fail("sha256", "cannot initialise the digest (OpenSSL)");
    }
};

Sha256::Sha256()
    : m_impl(std::make_unique<Impl>()) {
    m_impl->ctx = EVP_MD_CTX_new();
    if (!m_impl->ctx)
        fail("sha256", "cannot allocate a digest context (OpenSSL)");
    m_impl->init();
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(m_impl->ctx);
}

void Sha256::update(const void* data, size_t size) {
    if (size > 0 && EVP_DigestUpdate(m_impl->ctx, data, size) != 1)
        fail("sha256", "digest update failed (OpenSSL)");
}

std::string Sha256::hexDigest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(m_impl->ctx, digest, &length) != 1)
        fail("sha256", "digest finalisation failed (OpenSSL)");
    m_impl->init(); // ready for a new message
    return toHex(digest, length);
}

FileStamp fileStamp(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        fail(path.string(), errnoText("cannot read its attributes", errno));
    const auto ns = [](const timespec& t) {
        return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
    };
    return {static_cast<int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

std::string sha256Hex(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return hash.hexDigest();
}

std::string sha256File(const std::filesystem::path& path, const JobContext& job) {
    FdGuard file;
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file.fd < 0) {
        const int err = errno;
        if (err == ENOENT)
            fail(path.string(), "no such file");
        fail(path.string(), errnoText("cannot open", err));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0)
        fail(path.string(), errnoText("cannot read its attributes", errno));
    if (S_ISDIR(st.st_mode))
        fail(path.string(), "is a directory, not a file");
    if (!S_ISREG(st.st_mode))
        fail(path.string(), "is not a regular file");

    const int64_t total = static_cast<int64_t>(st.st_size);
    const std::string name = path.filename().string();
    std::vector<unsigned char> block(
        std::min<size_t>(kBlockBytes, std::max<size_t>(static_cast<size_t>(total), 1)));
    Sha256 hash;
    int64_t done = 0;
    job.report("hash", 0, total, name);
    for (;;) {
        job.cancel.throwIfCancelled();
        // Fill the whole block (read() may return less), so progress moves in large steps.
        size_t filled = 0;
        while (filled < block.size()) {
            const ssize_t n = ::read(file.fd, block.data() + filled, block.size() - filled);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                fail(path.string(), errnoText("read failed", errno));
            }
            if (n == 0)
                break;
            filled += static_cast<size_t>(n);
        }
        if (filled == 0)
            break;
        hash.update(block.data(), filled);
        done += static_cast<int64_t>(filled);
        job.report("hash", done, std::max(total, done), name);
        if (filled < block.size())
            break;
    }
    return hash.hexDigest();
}

std::string hashWeights(const std::filesystem::path& checkpoint, const KnownHashFn& known,
                        const RememberHashFn& remember, const JobContext& job) {
    std::error_code error;
    const std::filesystem::file_status status = std::filesystem::status(checkpoint, error);
    if (status.type() == std::filesystem::file_type::not_found)
        fail(checkpoint.string(), "no such file or directory");
    if (error)
        fail(checkpoint.string(), "cannot read its attributes (" + error.message() + ")");

    if (status.type() == std::filesystem::file_type::regular)
        return hashMemoized(checkpoint, known, remember, job);
    if (status.type() != std::filesystem::file_type::directory)
        fail(checkpoint.string(), "is neither a weights file nor a model directory");

    std::vector<std::filesystem::path> files;
    for (std::filesystem::directory_iterator it(checkpoint, error), end; !error && it != end;
         it.increment(error)) {
        std::error_code entryError;
        if (it->path().extension() == ".safetensors" && it->is_regular_file(entryError))
            files.push_back(it->path());
    }
    if (error)
        fail(checkpoint.string(), "cannot list the directory (" + error.message() + ")");
    if (files.empty())
        fail(checkpoint.string(), "has no .safetensors file to hash");
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
        return a.filename().string() < b.filename().string();
    });

    std::string lines;
    for (const std::filesystem::path& file : files)
        lines += file.filename().string() + "\n" + hashMemoized(file, known, remember, job) + "\n";
    return sha256Hex(lines);
}

} // namespace rs
