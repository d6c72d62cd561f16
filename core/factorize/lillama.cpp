#include "factorize/lillama.h"

#include "dist/communicator.h"
#include "model/llama.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

namespace rs {

namespace {

constexpr double kBeta1 = 0.9;
constexpr double kBeta2 = 0.999;
constexpr double kAdamEps = 1e-8;

// AdamW (Loshchilov & Hutter) over a few factor tensors. Written out rather than taken from the
// LibTorch C++ frontend, whose optimiser headers pull in the whole module system.
class AdamW {
public:
    AdamW(std::vector<at::Tensor> params, double lr, double weightDecay)
        : m_params(std::move(params))
        , m_lr(lr)
        , m_decay(weightDecay) {
        for (const at::Tensor& p : m_params) {
            m_first.push_back(at::zeros_like(p));
            m_second.push_back(at::zeros_like(p));
        }
    }
    void step() {
        at::NoGradGuard noGrad;
        ++m_step;
        const double correction1 = 1.0 - std::pow(kBeta1, static_cast<double>(m_step));
        const double correction2 = 1.0 - std::pow(kBeta2, static_cast<double>(m_step));
        for (size_t i = 0; i < m_params.size(); ++i) {
            at::Tensor& p = m_params[i];
            const at::Tensor g = p.grad();
            if (!g.defined())
                continue;
            if (m_decay > 0.0)
                p.mul_(1.0 - m_lr * m_decay);
            m_first[i].mul_(kBeta1).add_(g, 1.0 - kBeta1);
            m_second[i].mul_(kBeta2).addcmul_(g, g, 1.0 - kBeta2);
            const at::Tensor denom = (m_second[i] / correction2).sqrt_().add_(kAdamEps);
            p.addcdiv_(m_first[i], denom, -m_lr / correction1);
            p.mutable_grad().zero_();
        }
    }

private:
    std::vector<at::Tensor> m_params;
    std::vector<at::Tensor> m_first, m_second;
    double m_lr, m_decay;
    int64_t m_step = 0;
};

struct Trainable {
    Linear* linear;
    at::Tensor a, b;
};

at::Tensor ordinaryTensor(const at::Tensor& t) {
    return t.defined() && t.is_inference() ? t.clone() : t;
}

// The windows of a job spread over ranks that this rank holds: the global window indices map to
// rows of its tensors.
struct HeldWindows {
    int64_t first = 0;
    int64_t count = 0;
    std::vector<int64_t> rowsOf(const std::vector<int64_t>& windows) const {
        std::vector<int64_t> rows;
        for (int64_t w : windows)
            if (w >= first && w < first + count)
                rows.push_back(w - first);
        return rows;
    }
};

// Every rank's gradients summed into each parameter's, and every rank's loss into `loss`, in
// one float64 all-reduce (a rank without windows in the batch adds zeros).
void sumGradientsOverRanks(std::vector<at::Tensor>& params, double& loss, Communicator& group) {
    std::vector<at::Tensor> parts;
    for (const at::Tensor& p : params)
        parts.push_back(
            (p.grad().defined() ? p.grad() : at::zeros_like(p)).flatten().to(at::kDouble));
    parts.push_back(at::full({1}, loss, parts.front().options()));
    at::Tensor flat = at::cat(parts);
    group.sum(flat);
    int64_t offset = 0;
    for (at::Tensor& p : params) {
        p.mutable_grad() = flat.narrow(0, offset, p.numel()).view_as(p).to(p.dtype());
        offset += p.numel();
    }
    loss = flat[offset].item<double>();
}

} // namespace

at::Tensor distillationLoss(const at::Tensor& student, const at::Tensor& teacher) {
    const at::Tensor s = student.to(at::kFloat), t = teacher.to(at::kFloat);
    const at::Tensor cosine = at::cosine_similarity(s, t, -1);
    return (s - t).abs().mean() - at::log_sigmoid(cosine).mean();
}

LayerDistillation distillLayer(LlamaModel& model, int64_t block, const at::Tensor& teacherIn,
                               const at::Tensor& studentIn, const at::Tensor& teacherOut,
                               const LillamaOptions& options, const JobContext& job) {
    const auto started = std::chrono::steady_clock::now();
    const std::string subject = "model.layers." + std::to_string(block);
    // Training needs autograd whatever mode the caller runs in.
    c10::InferenceMode notInference(false);
    at::AutoGradMode gradients(true);

    if (teacherIn.sizes() != teacherOut.sizes() || studentIn.sizes() != teacherOut.sizes() ||
        teacherOut.dim() != 3)
        fail(subject, "teacher input, student input and teacher output must be equal "
                      "[windows, time, hidden] tensors");
    if (options.steps < 0 || options.batch < 1 || options.evalEvery < 1 ||
        options.evalWindows < 0 || !(options.learningRate > 0.0))
        fail(subject, "distillation needs steps >= 0, batch >= 1 and a positive learning rate");

    // A block converted from the checkpoint's dtype was materialised in inference mode, and
    // autograd cannot save such tensors for the backward pass: train on ordinary copies (the job
    // resets the block to the checkpoint afterwards).
    DecoderLayer& layer = model.layer(block);
    for (at::Tensor* t : {&layer.inputNorm, &layer.postAttentionNorm})
        *t = ordinaryTensor(*t);
    for (Linear& linear : layer.linears)
        for (at::Tensor* t : {&linear.weight, &linear.bias, &linear.loraA, &linear.loraB})
            *t = ordinaryTensor(*t);

    std::vector<Trainable> trainables;
    std::vector<at::Tensor> params;
    for (Linear& linear : model.layer(block).linears) {
        if (!linear.factorOnly())
            continue;
        // Fresh leaves: the factors may come from inference-mode code.
        Trainable t{&linear, linear.loraA.detach().clone().requires_grad_(true),
                    linear.loraB.detach().clone().requires_grad_(true)};
        linear.loraA = t.a;
        linear.loraB = t.b;
        params.push_back(t.a);
        params.push_back(t.b);
        trainables.push_back(t);
    }
    if (trainables.empty())
        fail(subject, "has no factor-only linear to distil");

    Communicator* group = distributed(job) ? job.group.get() : nullptr;
    const HeldWindows held{options.totalWindows > 0 ? options.firstWindow : 0, teacherOut.size(0)};
    const int64_t windows = options.totalWindows > 0 ? options.totalWindows : held.count;
    if (held.first < 0 || held.first + held.count > windows)
        fail(subject, "the windows held are not a share of the " + std::to_string(windows));
    const int64_t batch = std::min(options.batch, windows);
    const auto lossOn = [&](const at::Tensor& index) {
        const at::Tensor target = teacherOut.index_select(0, index);
        return distillationLoss(model.decoderLayerWithGrad(block, teacherIn.index_select(0, index)),
                                target) +
               distillationLoss(model.decoderLayerWithGrad(block, studentIn.index_select(0, index)),
                                target);
    };
    const int64_t checked =
        options.evalWindows > 0 ? std::min(options.evalWindows, windows) : windows;
    const auto fullLoss = [&] {
        at::NoGradGuard noGrad;
        double sum = 0.0;
        for (int64_t first = 0; first < checked; first += batch) {
            std::vector<int64_t> chunk(static_cast<size_t>(std::min(batch, checked - first)));
            std::iota(chunk.begin(), chunk.end(), first);
            const std::vector<int64_t> rows = held.rowsOf(chunk);
            if (!rows.empty())
                sum += lossOn(at::tensor(rows, at::kLong)).item<double>() *
                       static_cast<double>(rows.size());
        }
        if (group) {
            at::Tensor total = at::full({1}, sum, at::kDouble);
            group->sum(total);
            sum = total.item<double>();
        }
        return sum / static_cast<double>(checked);
    };

    LayerDistillation out;
    out.block = block;
    std::vector<at::Tensor> best;
    const auto evaluate = [&](int64_t step) {
        const double loss = fullLoss();
        if (!std::isfinite(loss))
            fail(subject, "distillation loss is " + std::to_string(loss) + " at step " +
                              std::to_string(step) + " (lower the learning rate)");
        out.evalLoss.emplace_back(step, loss);
        if (step == 0 || loss < out.bestLoss) {
            out.bestLoss = loss;
            out.bestStep = step;
            best.clear();
            for (const at::Tensor& p : params)
                best.push_back(p.detach().clone());
        }
    };
    evaluate(0);
    out.initialLoss = out.bestLoss;

    AdamW optimiser(params, options.learningRate, options.weightDecay);
    std::mt19937_64 random(options.seed);
    std::vector<int64_t> order(static_cast<size_t>(windows));
    size_t cursor = order.size(); // reshuffle before the first step
    for (int64_t step = 1; step <= options.steps; ++step) {
        job.cancel.throwIfCancelled();
        std::vector<int64_t> picked;
        while (static_cast<int64_t>(picked.size()) < batch) {
            if (cursor == order.size()) {
                std::iota(order.begin(), order.end(), 0);
                std::shuffle(order.begin(), order.end(), random);
                cursor = 0;
            }
            picked.push_back(order[cursor++]);
        }
        // The batch's mean loss is the sum of each rank's share of it, weighted by its size.
        const std::vector<int64_t> rows = held.rowsOf(picked);
        double value = 0.0;
        if (!rows.empty()) {
            const at::Tensor loss = lossOn(at::tensor(rows, at::kLong)) *
                                    (static_cast<double>(rows.size()) / static_cast<double>(batch));
            value = loss.item<double>();
            job.cancel.throwIfCancelled(); // a step is two forwards and one backward: check midway
            if (std::isfinite(value))
                loss.backward();
        }
        if (group)
            sumGradientsOverRanks(params, value, *group);
        if (!std::isfinite(value))
            fail(subject, "distillation loss is " + std::to_string(value) + " at step " +
                              std::to_string(step) + " (lower the learning rate)");
        optimiser.step();
        out.trainLoss.push_back(value);
        if (step % options.evalEvery == 0 || step == options.steps)
            evaluate(step);
        char detail[96];
        std::snprintf(detail, sizeof detail, "layer %lld: loss %.5f (best %.5f)",
                      static_cast<long long>(block), value, out.bestLoss);
        job.report("distill", step, options.steps, detail);
    }

    for (size_t i = 0; i < trainables.size(); ++i) {
        trainables[i].linear->loraA = best[2 * i];
        trainables[i].linear->loraB = best[2 * i + 1];
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
}

} // namespace rs
