#include "store/artefact_cache.h"

#include "io/atomicfile.h"
#include "io/safetensorswriter.h"
#include "util/error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rs {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.json";
constexpr const char* kLockFile = ".writer.lock";
constexpr int kManifestFormat = 1;

std::string errnoText(const std::string& what, int err) {
    return what + " (" + std::strerror(err) + ")";
}

// A user-supplied name made safe to quote in a one-line message.
std::string quoted(const std::string& text) {
    std::string out = "'";
    for (size_t i = 0; i < text.size() && i < 80; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    return out + (text.size() > 80 ? "...'" : "'");
}

void checkKey(const std::string& key) {
    const bool ok =
        key.size() >= 16 && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
    if (!ok)
        fail("artefact key " + quoted(key), "must be 16 to 64 lowercase hexadecimal digits");
}

void checkFileName(const std::string& name) {
    const bool ok = !name.empty() && name.size() <= 200 && name[0] != '.' && name != kManifest &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                               (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
                    });
    if (!ok)
        fail("artefact file name " + quoted(name),
             "must be a plain file name (letters, digits, '.', '_', '-'), not hidden and not " +
                 std::string(kManifest));
}

bool isFile(const fs::path& path) {
    std::error_code error;
    return fs::is_regular_file(fs::symlink_status(path, error));
}

// Removes `dir` when it is empty (a key's two-digit prefix directory); anything else stays.
void removeIfEmpty(const fs::path& dir) {
    ::rmdir(dir.c_str());
}

// The artefact's files (not hidden, not the manifest) and their sizes, by name.
std::map<std::string, uint64_t> listFiles(const fs::path& dir) {
    std::map<std::string, uint64_t> files;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
        if (name.empty() || name[0] == '.' || name == kManifest)
            continue;
        std::error_code entryError;
        if (!it->is_regular_file(entryError))
            continue;
        files[name] = it->file_size(entryError);
        if (entryError)
            fail(it->path().string(), "cannot read its size (" + entryError.message() + ")");
    }
    if (error)
        fail(dir.string(), "cannot list the directory (" + error.message() + ")");
    return files;
}

nlohmann::json readManifest(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(path.string(), errnoText("cannot open the manifest", errno));
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad())
        fail(path.string(), "cannot read the manifest");
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object())
        fail(path.string(), "corrupt manifest (not a JSON object)");
    const auto files = doc.find("files");
    if (files == doc.end() || !files->is_object())
        fail(path.string(), "corrupt manifest (no \"files\" object)");
    for (const auto& [name, entry] : files->items()) {
        if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned())
            fail(path.string(), "corrupt manifest (no byte count for " + quoted(name) + ")");
    }
    if (!doc.contains("metadata") || !doc["metadata"].is_object())
        fail(path.string(), "corrupt manifest (no \"metadata\" object)");
    return doc;
}

// Takes the writer lock of an artefact directory without waiting. Returns the descriptor holding
// it, -1 when the directory has no lock file (and `create` is false), or fails when another
// writer holds it.
int lockArtefact(const fs::path& dir, bool create) {
    const fs::path path = dir / kLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0666);
    if (fd < 0) {
        if (!create && errno == ENOENT)
            return -1;
        fail(dir.string(), errnoText("cannot open the artefact's lock file", errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK)
            fail(dir.string(), "the artefact is being written by another writer");
        fail(dir.string(), errnoText("cannot lock the artefact", err));
    }
    return fd;
}

void unlockArtefact(int fd) {
    if (fd >= 0)
        ::close(fd); // closing the last descriptor releases the flock
}

} // namespace

ArtefactCache::ArtefactCache(fs::path directory)
    : m_dir(std::move(directory)) {}

fs::path ArtefactCache::pathOf(const std::string& key) const {
    checkKey(key);
    return m_dir / key.substr(0, 2) / key;
}

bool ArtefactCache::complete(const std::string& key) const {
    return isFile(pathOf(key) / kManifest);
}

uint64_t ArtefactCache::bytesOf(const std::string& key) const {
    const fs::path dir = pathOf(key);
    uint64_t bytes = 0;
    std::error_code error;
    for (fs::recursive_directory_iterator it(dir, error), end; !error && it != end;
         it.increment(error)) {
        std::error_code entryError;
        if (it->is_regular_file(entryError)) {
            const uint64_t size = it->file_size(entryError);
            if (!entryError)
                bytes += size;
        }
    }
    return bytes;
}

bool ArtefactCache::beingWritten(const std::string& key) const {
    const fs::path path = pathOf(key) / kLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    return held;
}

ArtefactCache::Writer::Writer(ArtefactCache& cache, std::string key)
    : m_cache(cache)
    , m_key(std::move(key)) {
    m_dir = m_cache.pathOf(m_key);
    std::error_code error;
    fs::create_directories(m_dir, error);
    if (error)
        fail(m_dir.string(), "cannot create the artefact directory (" + error.message() + ")");
    m_lockFd = lockArtefact(m_dir, true);
    try {
        if (isFile(m_dir / kManifest))
            fail(m_dir.string(), "the artefact already exists (remove it before writing it again)");
        // Whatever an interrupted writer left behind goes, except the lock we hold.
        for (fs::directory_iterator it(m_dir, error), end; !error && it != end;
             it.increment(error)) {
            if (it->path().filename() == kLockFile)
                continue;
            std::error_code removeError;
            fs::remove_all(it->path(), removeError);
            if (removeError)
                fail(it->path().string(), "cannot remove what an interrupted write left (" +
                                              removeError.message() + ")");
        }
        if (error)
            fail(m_dir.string(), "cannot list the directory (" + error.message() + ")");
    } catch (...) {
        unlockArtefact(m_lockFd);
        throw;
    }
}

ArtefactCache::Writer::~Writer() {
    if (!m_committed) {
        std::error_code error;
        fs::remove_all(m_dir, error); // the lock file too, while we still hold it
        removeIfEmpty(m_dir.parent_path());
    }
    unlockArtefact(m_lockFd);
}

void ArtefactCache::Writer::add(const std::string& file, const std::vector<NamedTensor>& tensors,
                                const std::map<std::string, std::string>& metadata) {
    checkFileName(file);
    const fs::path path = m_dir / file;
    if (m_committed)
        fail(path.string(), "cannot be added: the artefact is already committed");
    std::error_code error;
    if (fs::exists(fs::symlink_status(path, error)))
        fail(path.string(), "was already written to this artefact");
    writeSafetensors(path, tensors, metadata);
    const uint64_t size = fs::file_size(path, error);
    if (error)
        fail(path.string(), "written, but its size cannot be read (" + error.message() + ")");
    m_bytes += size;
}

void ArtefactCache::Writer::commit(const std::string& manifest) {
    const fs::path path = m_dir / kManifest;
    if (m_committed)
        fail(path.string(), "the artefact is already committed");
    nlohmann::json metadata =
        nlohmann::json::parse(manifest.empty() ? "{}" : manifest, nullptr, false);
    if (metadata.is_discarded() || !metadata.is_object())
        fail(path.string(), "the manifest metadata must be a JSON object");
    nlohmann::json files = nlohmann::json::object();
    for (const auto& [name, bytes] : listFiles(m_dir))
        files[name] = {{"bytes", bytes}};
    const nlohmann::json doc = {
        {"format", kManifestFormat}, {"key", m_key}, {"files", files}, {"metadata", metadata}};
    const std::string text = doc.dump(2) + "\n";
    writeFileAtomically(path, text);
    m_committed = true;
    m_bytes += text.size();
    ::unlink((m_dir / kLockFile).c_str());
    unlockArtefact(m_lockFd);
    m_lockFd = -1;
}

SafetensorsFile ArtefactCache::open(const std::string& key, const std::string& file) const {
    checkFileName(file);
    const fs::path dir = pathOf(key);
    const fs::path path = dir / file;
    if (!isFile(dir / kManifest))
        fail(path.string(),
             "the artefact is not complete (it has no " + std::string(kManifest) + ")");
    const nlohmann::json doc = readManifest(dir / kManifest);
    const auto& files = doc["files"];
    const auto entry = files.find(file);
    if (entry == files.end())
        fail(path.string(), "is not a file of this artefact");
    const uint64_t expected = (*entry)["bytes"].get<uint64_t>();
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            fail(path.string(), "missing from the cache (the artefact is damaged)");
        fail(path.string(), errnoText("cannot read its attributes", errno));
    }
    if (!S_ISREG(st.st_mode))
        fail(path.string(), "is not a regular file");
    if (static_cast<uint64_t>(st.st_size) != expected)
        fail(path.string(), "is " + std::to_string(st.st_size) + " bytes, the manifest says " +
                                std::to_string(expected) + " (truncated or damaged)");
    return SafetensorsFile::open(path);
}

std::string ArtefactCache::manifest(const std::string& key) const {
    const fs::path path = pathOf(key) / kManifest;
    if (!isFile(path))
        fail(path.string(), "missing (the artefact is not complete)");
    return readManifest(path)["metadata"].dump();
}

void ArtefactCache::remove(const std::string& key) const {
    const fs::path dir = pathOf(key);
    std::error_code error;
    if (!fs::exists(fs::symlink_status(dir, error)))
        return;
    const int lock = lockArtefact(dir, false);
    // The manifest goes first: a reader sees a complete artefact or an incomplete one, never a
    // complete one with files missing.
    fs::remove(dir / kManifest, error);
    if (!error)
        fs::remove_all(dir, error);
    unlockArtefact(lock);
    if (error)
        fail(dir.string(), "cannot remove the artefact (" + error.message() + ")");
    removeIfEmpty(dir.parent_path());
}

std::vector<std::string> ArtefactCache::keys() const {
    std::vector<std::string> out;
    std::error_code error;
    const auto isHex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    for (fs::directory_iterator prefix(m_dir, error), end; !error && prefix != end;
         prefix.increment(error)) {
        const std::string p = prefix->path().filename().string();
        std::error_code entryError;
        if (p.size() != 2 || !isHex(p[0]) || !isHex(p[1]) || !prefix->is_directory(entryError))
            continue;
        std::error_code innerError;
        for (fs::directory_iterator it(prefix->path(), innerError), innerEnd;
             !innerError && it != innerEnd; it.increment(innerError)) {
            const std::string key = it->path().filename().string();
            const bool valid = key.size() >= 16 && key.size() <= 64 && key.rfind(p, 0) == 0 &&
                               std::all_of(key.begin(), key.end(), isHex);
            if (valid && it->is_directory(entryError))
                out.push_back(key);
        }
    }
    if (error && error != std::errc::no_such_file_or_directory)
        fail(m_dir.string(), "cannot list the cache directory (" + error.message() + ")");
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace rs
