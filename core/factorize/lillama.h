#pragma once

#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <string>
#include <vector>

namespace rs {

class LlamaModel;

// Lillama (Sy, Cerisara, Illina 2024; docs/design.md §2): low-rank feature distillation, one
// decoder layer at a time. The chosen linears of a layer are factor-only (initialised by SVD), and
// only their factors are trained so that the layer's output hidden states match the original
// (teacher) layer's, on two paths: the student layer fed the teacher's input, and fed the output
// of the already compressed layers below.
struct LillamaOptions {
    int64_t steps = 100;        // optimiser steps per decoder layer
    double learningRate = 2e-3; // AdamW
    int64_t batch = 4;          // windows per step (each used on both paths)
    double weightDecay = 0.0;   // AdamW's decoupled decay
    uint64_t seed = 0;          // order of the windows (training is otherwise deterministic)
    int64_t evalEvery = 25;     // steps between checks of the loss that picks the best weights
    int64_t evalWindows = 8;    // windows of that check (the first ones; 0: all)
    // A job spread over several processes (job.group): the tensors hold the windows
    // [firstWindow, firstWindow + their size) of totalWindows. Each step's batch is drawn from all
    // of them with the same seed on every rank; each rank takes the loss of the windows it holds
    // and the gradients are summed, so every rank takes the step one process would take (equal up
    // to summation order).
    int64_t firstWindow = 0;
    int64_t totalWindows = 0; // 0: the tensors hold every window
};

// mean |s - t| - mean over tokens of log sigmoid(cos(s, t)) (cosine along the hidden dimension),
// for hidden states [..., hidden]. Differentiable.
at::Tensor distillationLoss(const at::Tensor& student, const at::Tensor& teacher);

struct LayerDistillation {
    int64_t block = 0;
    std::vector<double> trainLoss; // per step, on that step's batch (both paths summed)
    // Loss on the first evalWindows windows (both paths summed) at step 0 (the SVD
    // initialisation), every evalEvery steps and after the last step, as (step, loss).
    std::vector<std::pair<int64_t, double>> evalLoss;
    double initialLoss = 0.0; // evalLoss at step 0
    double bestLoss = 0.0;    // the lowest evalLoss, whose weights the layer keeps
    int64_t bestStep = 0;
    double seconds = 0.0;
};

// Trains the factors (loraA, loraB) of every factor-only linear of decoder layer `block` in
// `model` with AdamW and leaves the best weights found (lowest checked loss, the SVD
// initialisation included) in the model, without autograd history. The check uses a fixed
// subset of the windows: a pass over all of them would cost more than the training steps.
// teacherIn, studentIn and teacherOut are [windows, time, hidden]: the original layer's input, the
// compressed model's input to this layer and the original layer's output. Reports stage "distill"
// after every step with the loss, and honours cancellation between steps. Fails naming the layer
// when it has no factor-only linear, the shapes disagree or the loss becomes NaN/Inf.
LayerDistillation distillLayer(LlamaModel& model, int64_t block, const at::Tensor& teacherIn,
                               const at::Tensor& studentIn, const at::Tensor& teacherOut,
                               const LillamaOptions& options, const JobContext& job = {});

} // namespace rs
