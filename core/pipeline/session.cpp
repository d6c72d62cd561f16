#include "pipeline/session.h"

#include "io/checkpoint.h"
#include "io/dtype.h"
#include "model/llama.h"
#include "store/experiment_store.h"
#include "tokenizer/tokenizer.h"
#include "util/argument_error.h"
#include "util/error.h"
#include "util/text.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cstdlib>
#include <malloc.h>
#include <map>
#include <thread>

namespace rs {

struct ModelSession::Impl {
    Checkpoint checkpoint;
    ModelSummary summary;
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::string tokenizerError;
    std::string device;
    std::optional<ExportSummary> exportSummary;
    int64_t lowRankLayers = 0;
};

ModelSession::ModelSession()
    : m_impl(std::make_unique<Impl>()) {}
ModelSession::~ModelSession() = default;

void initializeRuntime() {
    // Streaming passes allocate the same activation buffers (a few MiB each) block after block;
    // with glibc's adaptive thresholds they are mapped and unmapped every time and each use
    // faults its pages in again (about 3x the run time on stories260K). Fixed thresholds keep
    // them in the heap; buffers of 64 MiB and more (carried states, Gram matrices) are still
    // mapped and returned at once.
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
    if (std::getenv("OMP_NUM_THREADS"))
        return;
    const unsigned cores = std::thread::hardware_concurrency();
    if (cores > 0)
        at::set_num_threads(static_cast<int>(cores));
}

std::shared_ptr<MemoryBudget> jobMemoryBudget(int64_t requested) {
    auto budget = std::make_shared<MemoryBudget>();
    budget->bytes = resolveMemoryBudget(requested) / 2;
    budget->spillDir = defaultCacheDirectory() / "spill";
    return budget;
}

std::string resolveDevice(const std::string& requested) {
    const bool cuda = at::hasCUDA();
    if (requested == "auto")
        return cuda ? "cuda" : "cpu";
    if (requested == "cpu")
        return requested;
    const bool cudaIndex = requested.size() > 5 && requested.rfind("cuda:", 0) == 0 &&
                           std::all_of(requested.begin() + 5, requested.end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
    if (requested == "cuda" || cudaIndex) {
        if (!cuda)
            fail("device",
                 "'" + requested + "' requested, but this build of LibTorch has no CUDA support");
        return requested;
    }
    failArgument("device", "unknown device '" + requested + "' (use cpu, cuda, cuda:N or auto)");
}

std::shared_ptr<ModelSession> ModelSession::open(const std::filesystem::path& path,
                                                 const OpenOptions& options,
                                                 const JobContext& job) {
    std::shared_ptr<ModelSession> session(new ModelSession());
    Impl& m = *session->m_impl;
    m.device = resolveDevice(options.device);

    job.report("open", 0, 3, "reading checkpoint");
    if (!parseFloatDtype(options.dtype))
        fail(path.string(),
             "unsupported dtype '" + options.dtype + "' (supported: float32, bfloat16, float16)");
    // Either way only headers are read: the weights stay mapped until a block is built.
    if (isExportDirectory(path)) {
        LoadedExport exported = loadExport(path);
        m.checkpoint = std::move(exported.checkpoint);
        m.exportSummary = exported.summary;
        m.lowRankLayers = exported.summary.lowRankLayers;
    } else {
        m.checkpoint = openCheckpoint(path);
    }
    m.summary = summarize(m.checkpoint);
    if (const std::string warning = unusedTensorsWarning(m.summary); !warning.empty())
        job.report("warning", 0, 0, warning);
    job.cancel.throwIfCancelled();

    job.report("open", 1, 3, "loading tokenizer");
    try {
        if (!options.tokenizer.empty())
            m.tokenizer = loadTokenizerFile(options.tokenizer);
        else
            m.tokenizer =
                loadTokenizerForModel(std::filesystem::is_directory(path)
                                          ? path
                                          : std::filesystem::absolute(path).parent_path());
    } catch (const Error& e) {
        // A model without a tokenizer can still be inspected; the error surfaces on first use.
        if (!options.tokenizer.empty())
            throw;
        m.tokenizerError = std::string(e.what()) + " (name one with --tokenizer)";
    }
    if (m.tokenizer && m.tokenizer->vocabSize() > m.summary.config.vocabSize)
        fail(options.tokenizer.empty() ? path.string() : options.tokenizer.string(),
             "tokenizer has " + std::to_string(m.tokenizer->vocabSize()) +
                 " tokens but the model's vocabulary is " +
                 std::to_string(m.summary.config.vocabSize));
    job.cancel.throwIfCancelled();

    job.report("open", 2, 3, "building model");
    ModelOptions modelOptions;
    modelOptions.device = c10::Device(m.device);
    modelOptions.dtype = options.dtype;
    m.model = std::make_unique<LlamaModel>(m.checkpoint, modelOptions);
    if (m.model->computeDtype() != options.dtype)
        job.report("warning", 0, 0,
                   "--dtype " + options.dtype + " computes in " + m.model->computeDtype() + " on " +
                       m.device + " (LibTorch has no fast " + options.dtype +
                       " arithmetic there); the results are those of " + m.model->computeDtype());
    m.model->setWeightCacheBytes(resolveMemoryBudget(options.maxMemory) / 2);
    job.report("open", 3, 3);
    return session;
}

const ModelSummary& ModelSession::summary() const {
    return m_impl->summary;
}
const Checkpoint& ModelSession::checkpoint() const {
    return m_impl->checkpoint;
}
const std::optional<ExportSummary>& ModelSession::exportSummary() const {
    return m_impl->exportSummary;
}
int64_t ModelSession::lowRankLayers() const {
    return m_impl->lowRankLayers;
}
LlamaModel& ModelSession::model() {
    return *m_impl->model;
}
const LlamaModel& ModelSession::model() const {
    return *m_impl->model;
}
std::string ModelSession::deviceName() const {
    return m_impl->device;
}
std::string ModelSession::computeDtype() const {
    return m_impl->model->computeDtype();
}

std::string ModelSession::tokenizerDescription() const {
    return m_impl->tokenizer ? m_impl->tokenizer->describe() : m_impl->tokenizerError;
}

bool ModelSession::hasTokenizer() const {
    return m_impl->tokenizer != nullptr;
}

const Tokenizer& ModelSession::tokenizer() const {
    if (!m_impl->tokenizer)
        throw Error(m_impl->tokenizerError);
    return *m_impl->tokenizer;
}

void requireDenseModel(const ModelSession& session, const std::string& what) {
    if (session.lowRankLayers() == 0)
        return;
    const std::optional<ExportSummary>& e = session.exportSummary();
    fail(session.summary().source,
         "is " + (e ? "a " + describeExport(*e) : std::string("a model with low-rank paths")) +
             "; " + what +
             " needs a model without low-rank paths (use the original model or a merged export)");
}

std::string generateText(const ModelSession& session, const GenerateRequest& request,
                         const std::function<void(const std::string&)>& onText,
                         const CancelToken& cancel) {
    const Tokenizer& tokenizer = session.tokenizer();
    const ModelConfig& config = session.summary().config;
    const std::optional<int32_t> bos = tokenizer.bosId() ? tokenizer.bosId() : config.bosTokenId;

    if (const size_t bad = findInvalidUtf8(request.prompt); bad != std::string::npos)
        failArgument("prompt",
                     "not valid UTF-8 (first bad byte at offset " + std::to_string(bad) + ")");
    std::vector<int32_t> prompt;
    if (bos)
        prompt.push_back(*bos);
    const std::vector<int32_t> promptIds = tokenizer.encode(request.prompt);
    prompt.insert(prompt.end(), promptIds.begin(), promptIds.end());
    if (prompt.empty())
        fail("generate", "the model has no BOS token, so an empty prompt cannot start generation");

    std::vector<int32_t> stops = config.eosTokenIds;
    if (const auto eos = tokenizer.eosId())
        stops.push_back(*eos);
    if (bos)
        stops.push_back(*bos); // a new BOS means a new document: the sample is over

    std::string text;
    int32_t previous = prompt.back();
    session.model().generateGreedy(
        prompt, request.maxTokens, stops,
        [&](int32_t id) {
            const std::string piece = tokenizer.decodeNext(previous, id);
            previous = id;
            text += piece;
            if (onText)
                onText(piece);
        },
        cancel);
    return text;
}

PerplexityResult evaluateTextFile(const ModelSession& session, const std::filesystem::path& path,
                                  const EvalOptions& options, const JobContext& job) {
    const Protocol protocol =
        options.protocol ? *options.protocol : detectProtocolOfFile(path, job);
    const TextReadOptions reading{.maxTokens =
                                      evaluationTokens(session.model(), protocol, options)};
    const TokenStream stream = readTokenStream(path, protocol, session.tokenizer(), reading, job);
    return evaluatePerplexity(session.model(), stream, options, job);
}

} // namespace rs
