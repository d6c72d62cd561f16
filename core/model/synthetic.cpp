#include "model/synthetic.h"

#include "io/atomicfile.h"
#include "io/safetensorswriter.h"
#include "model/llama.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

namespace rs {

void writeRandomLlama(const std::filesystem::path& dir, const ModelConfig& c, uint64_t seed) {
    c.validate("synthetic model");
    std::filesystem::create_directories(dir);
    at::manual_seed(seed);
    std::vector<NamedTensor> tensors;
    const auto normal = [](std::vector<int64_t> shape) { return at::randn(shape) * 0.02; };
    tensors.push_back({"model.embed_tokens.weight", normal({c.vocabSize, c.hiddenSize})});
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        tensors.push_back({p + "input_layernorm.weight", at::ones({c.hiddenSize})});
        tensors.push_back({p + "post_attention_layernorm.weight", at::ones({c.hiddenSize})});
        const int64_t shapes[7][2] = {{q, c.hiddenSize},
                                      {kv, c.hiddenSize},
                                      {kv, c.hiddenSize},
                                      {c.hiddenSize, q},
                                      {c.intermediateSize, c.hiddenSize},
                                      {c.intermediateSize, c.hiddenSize},
                                      {c.hiddenSize, c.intermediateSize}};
        for (size_t k = 0; k < kAllLinearKinds.size(); ++k) {
            const std::string name = linearName(l, kAllLinearKinds[k]);
            tensors.push_back({name + ".weight", normal({shapes[k][0], shapes[k][1]})});
            if (c.attentionBias && k < 3)
                tensors.push_back({name + ".bias", normal({shapes[k][0]})});
        }
    }
    tensors.push_back({"model.norm.weight", at::ones({c.hiddenSize})});
    if (!c.tieWordEmbeddings)
        tensors.push_back({"lm_head.weight", normal({c.vocabSize, c.hiddenSize})});
    writeSafetensors(dir / "model.safetensors", tensors, {{"format", "pt"}});

    nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                             {"model_type", c.modelType},
                             {"hidden_size", c.hiddenSize},
                             {"intermediate_size", c.intermediateSize},
                             {"num_hidden_layers", c.numLayers},
                             {"num_attention_heads", c.numHeads},
                             {"num_key_value_heads", c.numKvHeads},
                             {"head_dim", c.headDim},
                             {"vocab_size", c.vocabSize},
                             {"max_position_embeddings", c.maxPositions},
                             {"rms_norm_eps", c.rmsNormEps},
                             {"rope_theta", c.ropeTheta},
                             {"tie_word_embeddings", c.tieWordEmbeddings},
                             {"attention_bias", c.attentionBias},
                             {"bos_token_id", c.bosTokenId.value_or(1)},
                             {"eos_token_id", c.eosTokenIds.empty() ? 2 : c.eosTokenIds.front()},
                             {"torch_dtype", "float32"}};
    writeFileAtomically(dir / "config.json", config.dump(2));
}

ModelConfig llama125mConfig() {
    ModelConfig c;
    c.hiddenSize = 768;
    c.intermediateSize = 2560;
    c.numLayers = 12;
    c.numHeads = 12;
    c.numKvHeads = 12;
    c.headDim = 64;
    c.vocabSize = 32000;
    c.maxPositions = 2048;
    c.rmsNormEps = 1e-5;
    c.tieWordEmbeddings = true;
    c.bosTokenId = 1;
    c.eosTokenIds = {2};
    return c;
}

} // namespace rs
