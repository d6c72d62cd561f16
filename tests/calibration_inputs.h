#pragma once

#include "calib/stats.h"
#include "eval/perplexity.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "testdata.h"
#include "util/text.h"

#include <ATen/ATen.h>

namespace rs::test {

// Synthetic inputs of a linear layer with a decaying channel scale; `deadChannel` >= 0 zeroes
// that column (a singular C).
inline at::Tensor calibrationInputs(int64_t tokens, int64_t dIn, int64_t deadChannel) {
    const at::Tensor scale = at::exp(-at::arange(dIn, at::kFloat) / static_cast<double>(dIn) * 3);
    at::Tensor x = at::randn({tokens, dIn}) * scale.index_select(0, at::randperm(dIn));
    if (deadChannel >= 0)
        x.select(1, deadChannel).zero_();
    return x;
}

inline InputStats statsOf(const at::Tensor& x) {
    InputStats stats;
    stats.accumulate(x);
    return stats;
}

// A rounding error like 3-bit RTN: dW = W - round(W / s) s, s = max|W| / 3 per row.
inline at::Tensor rtnError(const at::Tensor& w) {
    const at::Tensor s = w.abs().amax(1, true) / 3.0;
    return w - at::round(w / s) * s;
}

// Runs the real calibration text through the session's model in windows of `chunk` tokens (the
// model's linear-input hook sees every window). Returns the number of windows.
inline int64_t forwardCalibrationText(ModelSession& session, int64_t chunk) {
    const TokenStream stream =
        buildTokenStream(readTextFile(dataPath("text/tinystories/calib.txt")),
                         Protocol::TinyStories, session.tokenizer());
    int64_t windows = 0;
    for (size_t begin = 0; begin + size_t(chunk) <= stream.tokens.size(); begin += size_t(chunk)) {
        const at::Tensor tokens =
            at::tensor(std::vector<int64_t>(stream.tokens.begin() + long(begin),
                                            stream.tokens.begin() + long(begin) + chunk))
                .unsqueeze(0);
        session.model().forward(tokens);
        ++windows;
    }
    return windows;
}

} // namespace rs::test
