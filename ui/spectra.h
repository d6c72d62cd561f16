#pragma once

#include "store/records.h"

#include <QString>
#include <vector>

namespace rs::ui {

// The spectra a layer record stores, as the Spectra page and its heatmap show them. Both views
// use this header, so neither depends on the other for it.
enum class Spectrum {
    ScaledError, // singular values of dW S (S S^T = C): what EoRA truncates
    Error,       // singular values of dW
    Weight,      // singular values of W
    Gram,        // eigenvalues of C (right axis)
};
inline constexpr int kSpectrumCount = 4;

// "σ(dW·S)", ... (translated)
QString spectrumName(Spectrum spectrum);
// The stored values of `spectrum` in `layer`.
const std::vector<double>& spectrumValues(const rs::LayerRecord& layer, Spectrum spectrum);

} // namespace rs::ui
