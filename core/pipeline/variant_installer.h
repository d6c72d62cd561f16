#pragma once

// Internal to the compression job: how a variant's layers go into the model and come out again.

#include "compensate/compensation.h"
#include "model/llama.h"
#include "pipeline/job_inputs.h"

#include <ATen/ATen.h>
#include <vector>

namespace rs {

// Puts W_c and the low-rank path of one variant into the model's blocks, and takes them out
// again: a changed block is pinned in the model until it is reset to the checkpoint's weights.
class Installer {
public:
    explicit Installer(LlamaModel& model)
        : m_model(model) {}
    void install(const SelectedLinear& s, const at::Tensor& weight, const LowRankFactors* f) {
        Linear& linear = m_model.layer(s.block).linear(s.kind);
        const auto options = linear.weight.options();
        linear.weight = weight.to(options).contiguous();
        if (f && f->rank() > 0) {
            linear.loraA = f->A.to(options).contiguous();
            linear.loraB = f->B.to(options).contiguous();
        } else {
            linear.loraA = linear.loraB = at::Tensor();
        }
    }
    void restoreBlock(int64_t layer) { m_model.resetLayer(layer); }

private:
    LlamaModel& m_model;
};

// Restores every block with a selected linear when the job ends, however it ends.
class RestoreGuard {
public:
    RestoreGuard(Installer& installer, const std::vector<SelectedLinear>& selected)
        : m_installer(installer)
        , m_selected(selected) {}
    ~RestoreGuard() {
        for (const SelectedLinear& s : m_selected)
            m_installer.restoreBlock(s.block);
    }

private:
    Installer& m_installer;
    const std::vector<SelectedLinear>& m_selected;
};

} // namespace rs
