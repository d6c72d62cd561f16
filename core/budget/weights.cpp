#include "budget/weights.h"

#include "util/error.h"

#include <cmath>

namespace rs {

const char* weightingName(LayerWeighting weighting) {
    switch (weighting) {
    case LayerWeighting::Equal:
        return "equal";
    case LayerWeighting::Energy:
        return "energy";
    case LayerWeighting::Sensitivity:
        return "sensitivity";
    }
    return "?";
}

LayerWeighting parseWeighting(const std::string& name) {
    for (LayerWeighting w :
         {LayerWeighting::Equal, LayerWeighting::Energy, LayerWeighting::Sensitivity})
        if (name == weightingName(w))
            return w;
    fail("layer weights", "unknown weighting '" + name + "' (equal, energy or sensitivity)");
}

std::vector<double> layerWeights(LayerWeighting weighting, const std::vector<std::string>& names,
                                 const std::vector<double>& outputEnergy,
                                 const std::vector<double>& errorEnergy,
                                 const std::vector<double>& sensitivity) {
    const size_t n = names.size();
    if (outputEnergy.size() != n || errorEnergy.size() != n)
        fail("layer weights", "energies do not match the layers");
    std::vector<double> w(n, 1.0);
    if (weighting == LayerWeighting::Energy) {
        for (size_t l = 0; l < n; ++l) {
            if (!(outputEnergy[l] > 0) || !std::isfinite(outputEnergy[l]))
                fail(names[l], "has no positive output energy tr(W C W^T) to normalise by");
            w[l] = 1.0 / outputEnergy[l];
        }
    } else if (weighting == LayerWeighting::Sensitivity) {
        if (sensitivity.size() != n)
            fail("layer weights", "measured sensitivities are missing (" +
                                      std::to_string(sensitivity.size()) + " of " +
                                      std::to_string(n) + " layers)");
        for (size_t l = 0; l < n; ++l) {
            if (!std::isfinite(sensitivity[l]))
                fail(names[l], "its measured sensitivity is not finite");
            // A layer whose compression did not hurt (or helped) gets no say.
            w[l] = errorEnergy[l] > 0 ? std::max(sensitivity[l], 0.0) / errorEnergy[l] : 0.0;
        }
    }
    return w;
}

} // namespace rs
