#include "model/rope.h"

#include <ATen/ATen.h>
#include <cmath>
#include <numbers>

namespace rs {

std::vector<double> ropeInverseFrequencies(const ModelConfig& config) {
    const int64_t half = config.headDim / 2;
    std::vector<double> freqs(static_cast<size_t>(half));
    for (int64_t i = 0; i < half; ++i)
        freqs[static_cast<size_t>(i)] =
            1.0 / std::pow(config.ropeTheta,
                           2.0 * static_cast<double>(i) / static_cast<double>(config.headDim));
    if (!config.ropeScaling)
        return freqs;

    const RopeScaling& s = *config.ropeScaling;
    if (s.type == "linear") {
        for (double& f : freqs)
            f /= s.factor;
        return freqs;
    }
    // llama3: keep high frequencies, divide low frequencies by `factor`, blend in between.
    const double oldContext = static_cast<double>(s.originalMaxPositions);
    const double lowFreqWavelen = oldContext / s.lowFreqFactor;
    const double highFreqWavelen = oldContext / s.highFreqFactor;
    for (double& f : freqs) {
        const double wavelen = 2.0 * std::numbers::pi / f;
        if (wavelen < highFreqWavelen)
            continue;
        if (wavelen > lowFreqWavelen) {
            f /= s.factor;
            continue;
        }
        const double smooth =
            (oldContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1.0 - smooth) * f / s.factor + smooth * f;
    }
    return freqs;
}

RopeTables buildRopeTables(const ModelConfig& config) {
    const std::vector<double> freqs = ropeInverseFrequencies(config);
    const at::Tensor inv = at::tensor(freqs, at::kDouble);
    const at::Tensor positions = at::arange(config.maxPositions, at::kDouble);
    const at::Tensor angles = at::outer(positions, inv); // [positions, head_dim / 2]
    const at::Tensor full = at::cat({angles, angles}, 1);
    return {at::cos(full).to(at::kFloat), at::sin(full).to(at::kFloat)};
}

} // namespace rs
