#include "dist/communicator.h"

#include "util/error.h"

#include <ATen/ATen.h>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/jit/serialization/pickle.h>
#include <vector>

namespace rs {

namespace {

std::string failureKey(int rank) {
    return "failed/" + std::to_string(rank);
}

// Set by a rank once it has read another's failure: rank 0, which serves the store, waits for
// these before it leaves.
std::string seenKey(int rank) {
    return "seen/" + std::to_string(rank);
}

// How long rank 0 keeps serving the store after its own failure for the others to read it.
constexpr std::chrono::seconds kFailureGrace{3};

// Gloo's transport device: the interface named by GLOO_SOCKET_IFNAME (as in PyTorch), loopback
// for a job whose master is this machine's loopback address, else the host name's address.
std::shared_ptr<gloo::transport::Device> transportDevice(const std::string& masterAddr) {
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
        return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
    if (masterAddr == "localhost" || masterAddr.rfind("127.", 0) == 0)
        return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
}

bool agentServesStore() {
    const char* value = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    return value && std::string(value) == "True";
}

std::string withoutBacktrace(const std::exception& e) {
    if (const auto* c10 = dynamic_cast<const c10::Error*>(&e))
        return c10->what_without_backtrace();
    return e.what();
}

} // namespace

struct Communicator::Impl {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> group; // null once this rank has failed
    bool servesStore = false;
};

Communicator::Communicator(int rank, int size, std::chrono::milliseconds timeout,
                           std::unique_ptr<Impl> impl)
    : m_rank(rank)
    , m_size(size)
    , m_timeout(timeout)
    , m_impl(std::move(impl)) {}

Communicator::~Communicator() = default;

std::shared_ptr<Communicator> Communicator::join(const LaunchEnvironment& env,
                                                 std::chrono::milliseconds timeout) {
    const std::string where = env.masterAddr + ":" + std::to_string(env.masterPort);
    auto impl = std::make_unique<Impl>();
    try {
        c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(env.masterPort);
        options.isServer = env.rank == 0 && !agentServesStore();
        impl->servesStore = options.isServer;
        options.numWorkers = env.worldSize;
        options.waitWorkers = true; // also registers a client with the server's count
        options.timeout = timeout;
        const auto tcp = c10::make_intrusive<c10d::TCPStore>(env.masterAddr, options);
        // A prefix of our own: torchrun's agent keeps its rendezvous keys in the same store.
        impl->store = c10::make_intrusive<c10d::PrefixStore>("rankscope", tcp);
        auto groupOptions = c10d::ProcessGroupGloo::Options::create(timeout);
        groupOptions->devices.push_back(transportDevice(env.masterAddr));
        impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, env.rank,
                                                                  env.worldSize, groupOptions);
    } catch (const std::exception& e) {
        fail("distributed job (rank " + std::to_string(env.rank) + " of " +
                 std::to_string(env.worldSize) + ")",
             "could not join the other processes at " + where + " within " +
                 std::to_string(timeout.count() / 1000) + " s: " + withoutBacktrace(e));
    }
    auto communicator = std::shared_ptr<Communicator>(
        new Communicator(env.rank, env.worldSize, timeout, std::move(impl)));
    communicator->requireSame("the RankScope version", RANKSCOPE_VERSION);
    return communicator;
}

template <typename Operation>
void Communicator::run(const char* name, uint64_t bytes, Operation&& op) {
    if (!m_impl->group)
        fail("distributed job (rank " + std::to_string(m_rank) + ")",
             std::string(name) + " after this rank failed");
    try {
        op();
    } catch (const std::exception& e) {
        failCollective(name, withoutBacktrace(e));
    }
    m_bytes += bytes;
}

void Communicator::failCollective(const char* name, const std::string& cause) {
    const std::string subject =
        "distributed job (rank " + std::to_string(m_rank) + " of " + std::to_string(m_size) + ")";
    // A rank that failed on its own says why before it leaves; give its note a moment to land.
    for (int attempt = 0; attempt < 5; ++attempt) {
        for (int r = 0; r < m_size; ++r) {
            if (r == m_rank)
                continue;
            try {
                if (m_impl->store->check({failureKey(r)})) {
                    const std::vector<uint8_t> reason = m_impl->store->get(failureKey(r));
                    m_impl->store->set(seenKey(m_rank), std::vector<uint8_t>{1});
                    fail(subject, "rank " + std::to_string(r) +
                                      " failed: " + std::string(reason.begin(), reason.end()));
                }
            } catch (const Error&) {
                throw;
            } catch (const std::exception&) {
                attempt = 5; // the store went with rank 0: nothing more to learn
                break;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    fail(subject, std::string(name) + " failed: another rank stopped or did not answer within " +
                      std::to_string(m_timeout.count() / 1000) + " s (" + cause + ")");
}

void Communicator::recordFailure(const std::string& reason) noexcept {
    try {
        m_impl->store->set(failureKey(m_rank), std::vector<uint8_t>(reason.begin(), reason.end()));
    } catch (...) {
        // The store is gone with rank 0: the others learn of the failure from closed connections.
        return;
    }
    if (!m_impl->servesStore)
        return;
    // The store leaves with this process. Closing the group first makes the others' collectives
    // fail now; then keep serving until each has read the reason (or the grace time is over).
    try {
        m_impl->group.reset();
        std::vector<std::string> seen;
        for (int r = 0; r < m_size; ++r)
            if (r != m_rank)
                seen.push_back(seenKey(r));
        m_impl->store->wait(seen, kFailureGrace);
    } catch (...) {
        // A rank that died never reads it: leave after the grace time.
    }
}

void Communicator::sum(at::Tensor& tensor) {
    at::Tensor host = tensor.is_cpu() ? tensor.contiguous() : tensor.to(at::kCPU).contiguous();
    std::vector<at::Tensor> buffers{host};
    run("all-reduce", 2 * host.nbytes(),
        [&] { m_impl->group->allreduce(buffers)->wait(m_timeout); });
    if (!host.is_same(tensor))
        tensor.copy_(host);
}

void Communicator::broadcast(at::Tensor& tensor, int root) {
    at::Tensor host = tensor.is_cpu() ? tensor.contiguous() : tensor.to(at::kCPU).contiguous();
    std::vector<at::Tensor> buffers{host};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    options.timeout = m_timeout;
    run("broadcast", host.nbytes(),
        [&] { m_impl->group->broadcast(buffers, options)->wait(m_timeout); });
    if (!host.is_same(tensor))
        tensor.copy_(host);
}

c10::IValue Communicator::broadcastValue(const c10::IValue& value, int root) {
    std::vector<char> bytes;
    if (m_rank == root)
        bytes = torch::jit::pickle_save(value);
    at::Tensor size = at::tensor({static_cast<int64_t>(bytes.size())}, at::kLong);
    broadcast(size, root);
    at::Tensor data = at::empty({size.item<int64_t>()}, at::kByte);
    if (m_rank == root)
        std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
    broadcast(data, root);
    if (m_rank == root)
        return value;
    const auto* begin = static_cast<const char*>(data.data_ptr());
    return torch::jit::pickle_load(std::vector<char>(begin, begin + data.numel()));
}

void Communicator::requireSame(const std::string& what, const std::string& value) {
    // Every rank compares its value with rank 0's; the verdicts are summed so that all of them
    // fail together, each naming what it saw.
    const std::string reference = broadcastValue(value, 0).toStringRef();
    at::Tensor differing = at::zeros({m_size}, at::kLong);
    differing[m_rank] = reference == value ? 0 : 1;
    sum(differing);
    if (differing.sum().item<int64_t>() == 0)
        return;
    std::string ranks;
    for (int r = 0; r < m_size; ++r)
        if (differing[r].item<int64_t>() != 0)
            ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    fail("distributed job (rank " + std::to_string(m_rank) + " of " + std::to_string(m_size) + ")",
         what + " differs between ranks: rank(s) " + ranks + " differ from rank 0" +
             (reference == value ? "" : " (here: " + value + ", rank 0: " + reference + ")") +
             "; every process must run the same version on the same model, texts and settings");
}

void Communicator::barrier() {
    at::Tensor token = at::zeros({1}, at::kLong);
    sum(token);
}

std::pair<int64_t, int64_t> Communicator::share(int64_t n, const std::string& items) const {
    if (n < m_size)
        fail(items, std::to_string(n) + " cannot be shared by " + std::to_string(m_size) +
                        " processes (every process needs at least one); use fewer processes "
                        "or more data");
    const int64_t base = n / m_size, extra = n % m_size;
    const int64_t first = m_rank * base + std::min<int64_t>(m_rank, extra);
    return {first, base + (m_rank < extra ? 1 : 0)};
}

} // namespace rs
