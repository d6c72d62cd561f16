#pragma once

#include "eval/perplexity.h"
#include "model/llama.h"
#include "pipeline/session.h"
#include "testdata.h"
#include "util/text.h"

#include <ATen/ATen.h>

namespace rs::test {

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
