#include "compensate/validation.h"

#include "calib/stats.h"
#include "util/error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <cmath>
#include <limits>

namespace rs::compensate {

namespace {

std::string shapeText(const at::Tensor& t) {
    std::string out = "[";
    for (int64_t i = 0; i < t.dim(); ++i)
        out += (i ? ", " : "") + std::to_string(t.size(i));
    return out + "]";
}

} // namespace

at::Tensor validatedGram(const InputStats& stats, const std::string& name) {
    if (!stats.gram.defined())
        fail(name, "no calibration statistics (empty Gram matrix)");
    const at::Tensor& c = stats.gram;
    if (c.dim() != 2 || c.size(0) != c.size(1))
        fail(name, "calibration Gram matrix must be square, got " + shapeText(c));
    if (!allFinite(c))
        fail(name, "calibration Gram matrix contains NaN or Inf");
    return c.detach();
}

LayerInputs checkedInputs(const at::Tensor& weightError, const InputStats& stats,
                          const std::string& layerName) {
    if (!weightError.defined() || weightError.dim() != 2 || !weightError.is_floating_point())
        fail(layerName, "weight error must be a floating-point matrix [d_out, d_in], got " +
                            (weightError.defined() ? shapeText(weightError) : "nothing"));
    LayerInputs in;
    in.dOut = weightError.size(0);
    in.dIn = weightError.size(1);
    if (in.dOut == 0 || in.dIn == 0)
        fail(layerName, "weight error is empty " + shapeText(weightError));
    if (!allFinite(weightError))
        fail(layerName, "weight error contains NaN or Inf");
    const at::Tensor c = validatedGram(stats, layerName);
    if (c.size(0) != in.dIn)
        fail(layerName, "calibration statistics have dimension " + std::to_string(c.size(0)) +
                            " but the layer has " + std::to_string(in.dIn) + " inputs");
    in.error = weightError.detach();
    in.gram = c.to(weightError.device(), at::kDouble);
    return in;
}

LayerInputs validatedInputs(const at::Tensor& weightError, const InputStats& stats,
                            const std::string& layerName) {
    LayerInputs in = checkedInputs(weightError, stats, layerName);
    in.error = in.error.to(at::kDouble);
    return in;
}

double gramTolerance(double largestEigenvalue, int64_t dIn) {
    return std::max(largestEigenvalue, 0.0) * static_cast<double>(std::max<int64_t>(1, dIn)) *
           static_cast<double>(std::numeric_limits<float>::epsilon());
}

} // namespace rs::compensate
