#include "compress/validate.h"

#include "calib/stats.h"
#include "util/error.h"

#include <ATen/ATen.h>

namespace rs {

namespace {

void requireFinite(const at::Tensor& t, const std::string& layerName, const std::string& what) {
    if (at::isnan(t).any().item<bool>())
        fail(layerName, what + " NaN");
    if (at::isinf(t).any().item<bool>())
        fail(layerName, what + " Inf");
}

std::string shapeText(const at::Tensor& t) {
    std::string out;
    for (int64_t d = 0; d < t.dim(); ++d)
        out += (d ? " x " : "") + std::to_string(t.size(d));
    return out.empty() ? "a scalar" : out;
}

} // namespace

at::Tensor checkedWeight(const at::Tensor& weight, const std::string& layerName) {
    if (!weight.defined())
        fail(layerName, "no weight");
    if (weight.dim() != 2 || weight.numel() == 0)
        fail(layerName, "the weight must be a non-empty matrix, got " + shapeText(weight));
    if (!weight.is_floating_point())
        fail(layerName, "the weight is not floating point");
    requireFinite(weight, layerName, "weight contains");
    return weight.to(at::kFloat);
}

const InputStats& checkedStats(const InputStats* stats, int64_t dIn, const std::string& methodId,
                               const std::string& layerName) {
    if (!stats || !stats->gram.defined())
        fail(layerName, methodId + " needs calibration statistics of the layer input, none given");
    const at::Tensor& gram = stats->gram;
    if (gram.dim() != 2 || gram.size(0) != gram.size(1))
        fail(layerName,
             "the calibration statistics are not a square matrix (" + shapeText(gram) + ")");
    if (gram.size(0) != dIn)
        fail(layerName, "the calibration statistics have d_in " + std::to_string(gram.size(0)) +
                            " but the weight has d_in " + std::to_string(dIn));
    if (stats->tokens <= 0)
        fail(layerName, "the calibration statistics hold no tokens");
    requireFinite(gram, layerName, "calibration statistics contain");
    return *stats;
}

} // namespace rs
