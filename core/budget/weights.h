#pragma once

#include <string>
#include <vector>

namespace rs {

// The layer weights w_l of the planning objective sum_l w_l E_l(r_l):
//   equal:       w_l = 1, the absolute output errors are added as they are;
//   energy:      w_l = 1 / tr(W_l C_l W_l^T), each layer's error relative to its own output
//                energy (the sum of relative output errors);
//   sensitivity: w_l = dPPL_l / E_l(0), the measured perplexity increase when only layer l is
//                compressed spread over its error, so w_l E_l(r) predicts a perplexity increase.
enum class LayerWeighting { Equal, Energy, Sensitivity };

const char* weightingName(LayerWeighting weighting); // "equal", "energy", "sensitivity"
LayerWeighting parseWeighting(const std::string& name);

// One weight per layer. outputEnergy and errorEnergy are per layer; sensitivity (perplexity
// increases) only for LayerWeighting::Sensitivity. Fails for a zero or negative output energy
// (energy) or missing sensitivities.
std::vector<double> layerWeights(LayerWeighting weighting, const std::vector<std::string>& names,
                                 const std::vector<double>& outputEnergy,
                                 const std::vector<double>& errorEnergy,
                                 const std::vector<double>& sensitivity = {});

} // namespace rs
