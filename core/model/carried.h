#pragma once

#include "util/progress.h"

#include <ATen/core/Tensor.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rs {

struct MemoryBudget;

// States a streaming pass carries from one decoder block to the next (the hidden states of every
// window). They live in memory while the job's budget (JobContext::memory) allows, and otherwise
// in a temporary file under the budget's spill directory, mapped into memory. The file is
// unlinked as soon as it exists, so it disappears with the process however it ends (failure,
// Ctrl-C, kill), and its space is reserved up front, so that a full disk is a clear error here
// rather than SIGBUS on a later write.
class CarriedStates {
public:
    CarriedStates() = default;
    // `what` names the states in messages ("calibration hidden states").
    CarriedStates(const std::vector<int64_t>& shape, const at::TensorOptions& options,
                  const JobContext& job, const std::string& what);
    CarriedStates(CarriedStates&&) noexcept;
    CarriedStates& operator=(CarriedStates&&) noexcept;
    CarriedStates(const CarriedStates&) = delete;
    CarriedStates& operator=(const CarriedStates&) = delete;
    ~CarriedStates();

    at::Tensor& tensor() { return m_tensor; }
    const at::Tensor& tensor() const { return m_tensor; }
    bool spilled() const { return m_spilled; }
    int64_t bytes() const { return m_bytes; }

private:
    void release() noexcept;

    at::Tensor m_tensor;
    std::shared_ptr<MemoryBudget> m_budget;
    int64_t m_bytes = 0;
    bool m_spilled = false;
};

} // namespace rs
