#include "formats/gguf_model.h"

#include "util/error.h"

#include <ATen/ATen.h>
#include <array>
#include <utility>

namespace rs::gguf {

namespace {

// Hugging Face's name inside a decoder block, llama.cpp's.
constexpr std::array<std::pair<const char*, const char*>, 9> kBlockTensors{{
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
}};

std::string key(const char* suffix) {
    return std::string(kArchitecture) + "." + suffix;
}

// The number of heads whose rows toLlamaCppRows reorders; 0 for any other tensor.
int64_t rotatedHeads(const std::string& hfName, const ModelConfig& config) {
    if (hfName.ends_with("self_attn.q_proj.weight"))
        return config.numHeads;
    if (hfName.ends_with("self_attn.k_proj.weight"))
        return config.numKvHeads;
    return 0;
}

at::Tensor reorderRows(const at::Tensor& rows, int64_t heads, bool toLlamaCpp) {
    const int64_t half = rows.size(0) / heads / 2;
    const at::Tensor grouped =
        toLlamaCpp ? rows.reshape({heads, 2, half, -1}) : rows.reshape({heads, half, 2, -1});
    return grouped.transpose(1, 2).reshape(rows.sizes()).contiguous();
}

} // namespace

void requireLlamaArchitecture(const ModelConfig& config, const std::string& source) {
    if (config.attentionBias || config.mlpBias)
        fail(source, "a GGUF export is written for llama.cpp's llama architecture, which has no "
                     "linear biases (this " +
                         config.modelType + " model has them)");
    if (config.ropeScaling)
        fail(source, "a GGUF export does not carry RoPE scaling ('" + config.ropeScaling->type +
                         "') yet; the model would run with plain RoPE in llama.cpp");
    if (config.headDim % 2 != 0)
        fail(source, "head_dim " + std::to_string(config.headDim) + " is odd; RoPE needs pairs");
}

std::optional<std::string> tensorName(const std::string& hfName) {
    if (hfName == "model.embed_tokens.weight")
        return "token_embd.weight";
    if (hfName == "model.norm.weight")
        return "output_norm.weight";
    if (hfName == "lm_head.weight")
        return "output.weight";
    const std::string prefix = "model.layers.";
    if (!hfName.starts_with(prefix))
        return std::nullopt;
    const size_t dot = hfName.find('.', prefix.size());
    if (dot == std::string::npos)
        return std::nullopt;
    const std::string block = hfName.substr(prefix.size(), dot - prefix.size());
    const std::string rest = hfName.substr(dot + 1);
    for (const auto& [hf, llamaCpp] : kBlockTensors)
        if (rest == hf)
            return "blk." + block + "." + llamaCpp;
    return std::nullopt;
}

at::Tensor toLlamaCppRows(const at::Tensor& rows, const std::string& hfName,
                          const ModelConfig& config) {
    const int64_t heads = rotatedHeads(hfName, config);
    return heads > 0 ? reorderRows(rows, heads, true) : rows;
}

at::Tensor fromLlamaCppRows(const at::Tensor& rows, const std::string& hfName,
                            const ModelConfig& config) {
    const int64_t heads = rotatedHeads(hfName, config);
    return heads > 0 ? reorderRows(rows, heads, false) : rows;
}

std::vector<KeyValue> modelMetadata(const ModelConfig& config, const std::string& name,
                                    uint32_t fileType) {
    const auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
    return {
        {"general.architecture", std::string(kArchitecture)},
        {"general.name", name},
        {"general.file_type", fileType},
        {key("vocab_size"), u32(config.vocabSize)},
        {key("context_length"), u32(config.maxPositions)},
        {key("embedding_length"), u32(config.hiddenSize)},
        {key("block_count"), u32(config.numLayers)},
        {key("feed_forward_length"), u32(config.intermediateSize)},
        {key("attention.head_count"), u32(config.numHeads)},
        {key("attention.head_count_kv"), u32(config.numKvHeads)},
        {key("attention.key_length"), u32(config.headDim)},
        {key("attention.value_length"), u32(config.headDim)},
        {key("rope.dimension_count"), u32(config.headDim)},
        {key("attention.layer_norm_rms_epsilon"), static_cast<float>(config.rmsNormEps)},
        {key("rope.freq_base"), static_cast<float>(config.ropeTheta)},
    };
}

std::vector<KeyValue> vocabularyMetadata(const Vocabulary& vocabulary, int32_t bosId,
                                         int32_t eosId) {
    std::vector<int32_t> types;
    for (Vocabulary::PieceType t : vocabulary.types)
        types.push_back(static_cast<int32_t>(t));
    std::vector<KeyValue> out{
        {"tokenizer.ggml.model", vocabulary.model},
        {"tokenizer.ggml.tokens", vocabulary.pieces},
        {"tokenizer.ggml.token_type", types},
        {"tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bosId)},
        {"tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eosId)},
        {"tokenizer.ggml.add_bos_token", true},
        {"tokenizer.ggml.add_eos_token", false},
    };
    if (vocabulary.model == "gpt2") {
        out.push_back({"tokenizer.ggml.pre", vocabulary.preTokenizer});
        out.push_back({"tokenizer.ggml.merges", vocabulary.merges});
    } else {
        out.push_back({"tokenizer.ggml.scores", vocabulary.scores});
        out.push_back({"tokenizer.ggml.add_space_prefix", vocabulary.addSpacePrefix});
    }
    if (vocabulary.unknownId)
        out.push_back(
            {"tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(*vocabulary.unknownId)});
    return out;
}

std::vector<KeyValue> adapterMetadata(const std::string& name, float alpha) {
    return {{"general.architecture", std::string(kArchitecture)},
            {"general.type", std::string("adapter")},
            {"general.name", name},
            {"adapter.type", std::string("lora")},
            {"adapter.lora.alpha", alpha}};
}

std::string loraTensorName(const std::string& ggufBase, char which) {
    return ggufBase + ".lora_" + std::string(1, which);
}

} // namespace rs::gguf
