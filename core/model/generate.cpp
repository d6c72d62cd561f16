#include "model/llama.h"
#include "util/argument_error.h"

#include <ATen/ATen.h>
#include <algorithm>
#include <c10/core/InferenceMode.h>

namespace rs {

std::vector<int32_t> LlamaModel::generateGreedy(const std::vector<int32_t>& prompt,
                                                int64_t maxNewTokens,
                                                const std::vector<int32_t>& stopTokens,
                                                const std::function<void(int32_t)>& onToken,
                                                const CancelToken& cancel) const {
    c10::InferenceMode inference;
    if (prompt.empty())
        fail("generate", "the prompt must hold at least one token (e.g. BOS)");
    const int64_t promptLength = static_cast<int64_t>(prompt.size());
    const int64_t capacity =
        std::min(config().maxPositions, promptLength + std::max<int64_t>(maxNewTokens, 0));
    if (promptLength > capacity)
        failArgument("generate", "the prompt (" + std::to_string(promptLength) +
                                     " tokens) is longer than the model context");

    KvCache cache = makeCache(1, capacity);
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);
    std::vector<int32_t> produced;
    while (static_cast<int64_t>(produced.size()) < maxNewTokens) {
        cancel.throwIfCancelled();
        const at::Tensor logits = forward(input, &cache);
        const auto next = static_cast<int32_t>(logits[0][-1].argmax().item<int64_t>());
        if (std::find(stopTokens.begin(), stopTokens.end(), next) != stopTokens.end())
            break;
        produced.push_back(next);
        if (onToken)
            onToken(next);
        if (cache.length >= cache.capacity)
            break;
        input = at::full({1, 1}, static_cast<int64_t>(next), at::kLong);
    }
    return produced;
}

} // namespace rs
