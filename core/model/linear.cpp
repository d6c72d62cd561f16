#include "model/llama.h"

#include <ATen/ATen.h>

namespace rs {

const char* linearSuffix(LinearKind kind) {
    switch (kind) {
    case LinearKind::Q:
        return "self_attn.q_proj";
    case LinearKind::K:
        return "self_attn.k_proj";
    case LinearKind::V:
        return "self_attn.v_proj";
    case LinearKind::O:
        return "self_attn.o_proj";
    case LinearKind::Gate:
        return "mlp.gate_proj";
    case LinearKind::Up:
        return "mlp.up_proj";
    case LinearKind::Down:
        return "mlp.down_proj";
    }
    return "?";
}

std::string linearName(int64_t layer, LinearKind kind) {
    return "model.layers." + std::to_string(layer) + "." + linearSuffix(kind);
}

std::string lowRankTensorName(const std::string& linear, int part) {
    return linear + ".low_rank." + std::to_string(part) + ".weight";
}

InputSite inputSiteOf(LinearKind kind) {
    switch (kind) {
    case LinearKind::Q:
    case LinearKind::K:
    case LinearKind::V:
        return InputSite::Attention;
    case LinearKind::O:
        return InputSite::AttentionOutput;
    case LinearKind::Gate:
    case LinearKind::Up:
        return InputSite::Mlp;
    case LinearKind::Down:
        return InputSite::MlpDown;
    }
    return InputSite::Attention;
}

const char* inputSiteName(InputSite site) {
    switch (site) {
    case InputSite::Attention:
        return "attention input (q/k/v)";
    case InputSite::AttentionOutput:
        return "attention output (o)";
    case InputSite::Mlp:
        return "MLP input (gate/up)";
    case InputSite::MlpDown:
        return "MLP hidden (down)";
    }
    return "?";
}

at::Tensor Linear::forward(const at::Tensor& x) const {
    if (!weight.defined()) {
        const at::Tensor y = at::linear(at::linear(x, loraA), loraB);
        return bias.defined() ? y + bias : y;
    }
    at::Tensor y = bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
    if (loraA.defined())
        y.add_(at::linear(at::linear(x, loraA), loraB));
    return y;
}

int64_t Linear::outFeatures() const {
    return weight.defined() ? weight.size(0) : loraB.size(0);
}
int64_t Linear::inFeatures() const {
    return weight.defined() ? weight.size(1) : loraA.size(1);
}
int64_t Linear::parameters() const {
    const int64_t rank = loraA.defined() ? loraA.size(0) : 0;
    return (weight.defined() ? weight.numel() : 0) + rank * (outFeatures() + inFeatures());
}

} // namespace rs
