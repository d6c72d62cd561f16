#include "pipeline/distributed.h"

#include "dist/communicator.h"
#include "pipeline/compress_job.h"
#include "pipeline/request_json.h"
#include "pipeline/session.h"
#include "util/error.h"
#include "util/hash.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <fstream>

namespace rs {

namespace {

// Up to `limit` leading bytes of a file: a safetensors file's header (names, dtypes, shapes,
// offsets) and the start of its data.
std::string leadingBytes(const std::filesystem::path& file, size_t limit) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
        fail(file.string(), "cannot be read");
    std::string bytes(limit, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(limit));
    bytes.resize(static_cast<size_t>(in.gcount()));
    return bytes;
}

// Identifies a checkpoint without reading its weights (hundreds of GB on every rank): the
// config, and each weight file's name, size and leading megabyte.
std::string modelFingerprint(const std::filesystem::path& source) {
    constexpr size_t kLeading = 1 << 20;
    Sha256 hash;
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(source)) {
        for (const auto& entry : std::filesystem::directory_iterator(source)) {
            const std::string name = entry.path().filename().string();
            if (name == "config.json" || entry.path().extension() == ".safetensors" ||
                entry.path().extension() == ".bin")
                files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(source);
    }
    for (const auto& file : files) {
        hash.update(file.filename().string() + "\n" +
                    std::to_string(std::filesystem::file_size(file)) + "\n");
        hash.update(leadingBytes(file, kLeading));
    }
    return hash.hexDigest();
}

InputStats receivedSite(const c10::IValue& value, at::Device device) {
    InputStats stats;
    if (value.isNone())
        return stats;
    const auto& parts = value.toTupleRef().elements();
    stats.gram = parts[0].toTensor().to(device);
    stats.meanAbs = parts[1].toTensor().to(device);
    stats.tokens = parts[2].toInt();
    return stats;
}

c10::IValue sentSite(const InputStats& stats) {
    if (!stats.gram.defined())
        return c10::IValue();
    return c10::ivalue::Tuple::create(
        {stats.gram.to(at::kCPU), stats.meanAbs.to(at::kCPU), stats.tokens});
}

// Rank 0's side of saved statistics: each layer's, as read, goes to every other rank.
class SendingSource final : public LayerStatsSource {
public:
    SendingSource(std::unique_ptr<LayerStatsSource> inner, Communicator& group)
        : m_inner(std::move(inner))
        , m_group(group) {}
    LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask sites) override {
        LayerInputStats stats = m_inner->collect(layer, job, sites);
        for (size_t i = 0; i < stats.sites.size(); ++i)
            if (sites & (1u << i))
                m_group.broadcastValue(sentSite(stats.sites[i]), 0);
        return stats;
    }
    void advance(int64_t layer, const JobContext& job) override { m_inner->advance(layer, job); }

private:
    std::unique_ptr<LayerStatsSource> m_inner;
    Communicator& m_group;
};

// The other ranks' side: the statistics rank 0 read, as it sends them.
class ReceivingSource final : public LayerStatsSource {
public:
    ReceivingSource(Communicator& group, at::Device device)
        : m_group(group)
        , m_device(device) {}
    LayerInputStats collect(int64_t, const JobContext&, SiteMask sites) override {
        LayerInputStats stats;
        for (size_t i = 0; i < stats.sites.size(); ++i)
            if (sites & (1u << i))
                stats.sites[i] = receivedSite(m_group.broadcastValue(c10::IValue(), 0), m_device);
        return stats;
    }
    void advance(int64_t, const JobContext&) override {}

private:
    Communicator& m_group;
    at::Device m_device;
};

// Calibration whose sites rank 0 decides: its provider may collect more than the job needs (the
// cache saves every site), and the ranks' collectives must match.
class AgreedSitesSource final : public LayerStatsSource {
public:
    AgreedSitesSource(std::unique_ptr<LayerStatsSource> inner, Communicator& group)
        : m_inner(std::move(inner))
        , m_group(group) {}
    LayerInputStats collect(int64_t layer, const JobContext& job, SiteMask sites) override {
        return m_inner->collect(layer, job, agreed(sites));
    }
    void advance(int64_t layer, const JobContext& job) override { m_inner->advance(layer, job); }
    LayerInputStats collectAndAdvance(int64_t layer, const JobContext& job,
                                      SiteMask sites) override {
        return m_inner->collectAndAdvance(layer, job, agreed(sites));
    }

private:
    SiteMask agreed(SiteMask sites) {
        at::Tensor mask = at::full({1}, int64_t(sites), at::kLong);
        m_group.broadcast(mask, 0);
        return static_cast<SiteMask>(mask.item<int64_t>());
    }
    std::unique_ptr<LayerStatsSource> m_inner;
    Communicator& m_group;
};

} // namespace

void requireSameInputs(const JobContext& job, const ModelSession& session,
                       const std::vector<std::filesystem::path>& texts,
                       const std::string& settings) {
    if (!distributed(job))
        return;
    Communicator& group = *job.group;
    group.requireSame("the model (config, weight files' sizes and headers)",
                      modelFingerprint(session.summary().source));
    std::string textHashes;
    for (const auto& text : texts)
        textHashes += text.empty() ? "-\n" : sha256File(text) + "\n";
    group.requireSame("the contents of the texts", sha256Hex(textHashes));
    group.requireSame("the job's settings", sha256Hex(settings));
}

std::unique_ptr<LayerStatsSource> sharedStatsSource(const JobContext& job,
                                                    const StatsProvider& provider,
                                                    StatsRequest request, at::Device device) {
    if (!distributed(job))
        return provider ? provider(request) : request.calibrate();
    Communicator& group = *job.group;
    request.calibrate = [&group, calibrate = request.calibrate] {
        return std::make_unique<AgreedSitesSource>(calibrate(), group);
    };
    at::Tensor calibrating = at::ones({1}, at::kLong);
    std::unique_ptr<LayerStatsSource> source;
    if (group.leader() && provider) {
        bool calibrated = false;
        const auto calibrate = request.calibrate;
        request.calibrate = [&calibrated, calibrate] {
            calibrated = true;
            return calibrate();
        };
        source = provider(request);
        calibrating.fill_(calibrated ? 1 : 0);
    }
    group.broadcast(calibrating, 0);
    if (calibrating.item<int64_t>() != 0)
        return source ? std::move(source) : request.calibrate();
    if (group.leader())
        return std::make_unique<SendingSource>(std::move(source), group);
    return std::make_unique<ReceivingSource>(group, device);
}

namespace {

// An announcement: the model's path and the request as JSON, with a line break between (paths
// hold no line breaks on the systems this runs on); empty for the end.
std::string announcement(const ModelSession& session, const CompressRequest& request) {
    return session.checkpoint().source.string() + "\n" + requestToJson(request);
}

} // namespace

void announceCompression(const JobContext& job, const ModelSession& session,
                         const CompressRequest& request) {
    if (job.leadsFollowers && distributed(job) && job.group->leader())
        job.group->broadcastValue(announcement(session, request), 0);
}

void endAnnouncements(const JobContext& job) {
    if (job.leadsFollowers && distributed(job) && job.group->leader())
        job.group->broadcastValue(std::string(), 0);
}

void followAnnouncements(const JobContext& job, const ModelOpener& open) {
    if (!distributed(job) || job.group->leader())
        return;
    JobContext follower = job;
    follower.leadsFollowers = false;
    std::shared_ptr<ModelSession> session;
    std::filesystem::path opened;
    for (;;) {
        const std::string message = job.group->broadcastValue(c10::IValue(), 0).toStringRef();
        if (message.empty())
            return;
        const size_t split = message.find('\n');
        const std::filesystem::path model = message.substr(0, split);
        const CompressRequest request =
            requestFromJson(message.substr(split + 1), "the compression rank 0 announced");
        if (!session || model != opened) {
            session.reset();
            session = open(model);
            opened = model;
        }
        runCompression(*session, request, follower);
    }
}

} // namespace rs
