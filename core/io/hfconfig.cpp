#include "io/hfconfig.h"

#include "io/jsonerror.h"
#include "util/error.h"
#include "util/text.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace rs {

namespace {

using json = nlohmann::json;

// Reads typed keys out of the config object; every error names the file and the key.
class ConfigReader {
public:
    ConfigReader(const json& object, const std::string& source)
        : m_object(object)
        , m_source(source) {}

    // Absent and null both mean "use the default", as in Transformers.
    const json* find(const char* key) const {
        const auto it = m_object.find(key);
        return it == m_object.end() || it->is_null() ? nullptr : &*it;
    }

    [[noreturn]] void wrongType(const char* key, const char* expected, const json& value) const {
        fail(m_source, std::string("'") + key + "' must be " + expected + " (got " +
                           value.type_name() + " " + value.dump() + ")");
    }

    int64_t integer(const json& value, const char* key) const {
        if (!value.is_number_integer())
            wrongType(key, "an integer", value);
        if (value.is_number_unsigned() &&
            value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            fail(m_source, std::string("'") + key + "' " + value.dump() + " is out of range");
        return value.get<int64_t>();
    }

    int64_t requiredInt(const char* key) const {
        const json* value = find(key);
        if (!value)
            fail(m_source, std::string("missing required key '") + key + "'");
        return integer(*value, key);
    }

    int64_t optionalInt(const char* key, int64_t fallback) const {
        const json* value = find(key);
        return value ? integer(*value, key) : fallback;
    }

    double number(const char* key, double fallback) const {
        const json* value = find(key);
        if (!value)
            return fallback;
        if (!value->is_number())
            wrongType(key, "a number", *value);
        return value->get<double>();
    }

    bool boolean(const char* key, bool fallback) const {
        const json* value = find(key);
        if (!value)
            return fallback;
        if (!value->is_boolean())
            wrongType(key, "true or false", *value);
        return value->get<bool>();
    }

    std::string string(const char* key, const std::string& fallback) const {
        const json* value = find(key);
        if (!value)
            return fallback;
        if (!value->is_string())
            wrongType(key, "a string", *value);
        return value->get<std::string>();
    }

    int32_t tokenId(const json& value, const char* key) const {
        const int64_t id = integer(value, key);
        if (id < 0 || id > std::numeric_limits<int32_t>::max())
            fail(m_source, std::string("'") + key + "' " + std::to_string(id) + " is out of range");
        return static_cast<int32_t>(id);
    }

    const std::string& source() const { return m_source; }

private:
    const json& m_object;
    const std::string& m_source;
};

std::optional<RopeScaling> parseRopeScaling(const json& value, const std::string& source) {
    if (!value.is_object())
        fail(source, "'rope_scaling' must be an object (got " + value.dump() + ")");
    const ConfigReader r(value, source);
    RopeScaling s;
    // Transformers renamed "type" to "rope_type"; both occur in published configs.
    s.type = r.string("rope_type", r.string("type", ""));
    if (s.type.empty())
        fail(source, "'rope_scaling' has no 'rope_type'");
    if (s.type == "default") // Transformers' name for plain RoPE
        return std::nullopt;
    if (s.type != "llama3" && s.type != "linear")
        fail(source, "unsupported rope_scaling type '" + s.type + "' (supported: llama3, linear)");
    if (!r.find("factor"))
        fail(source, "'rope_scaling' has no 'factor'");
    s.factor = r.number("factor", 1.0);
    if (s.type == "llama3") {
        for (const char* key :
             {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
            if (!r.find(key))
                fail(source, std::string("'rope_scaling' of type llama3 has no '") + key + "'");
        s.lowFreqFactor = r.number("low_freq_factor", s.lowFreqFactor);
        s.highFreqFactor = r.number("high_freq_factor", s.highFreqFactor);
        s.originalMaxPositions =
            r.optionalInt("original_max_position_embeddings", s.originalMaxPositions);
    }
    return s;
}

} // namespace

ModelConfig parseModelConfig(std::string_view text, const std::string& source) {
    json root;
    try {
        root = json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
        fail(source, "not valid JSON (" + jsonErrorText(e) + ")");
    }
    if (!root.is_object())
        fail(source, "not a JSON object");
    const ConfigReader r(root, source);

    ModelConfig c;
    if (!r.find("model_type"))
        fail(source, "missing required key 'model_type'");
    c.modelType = r.string("model_type", "");
    if (c.modelType != "llama" && c.modelType != "mistral" && c.modelType != "qwen2")
        fail(source,
             "unsupported model_type '" + c.modelType + "' (supported: llama, mistral, qwen2)");
    // The forward pass is SwiGLU; a config asking for another activation would be misread.
    const std::string act = r.string("hidden_act", "silu");
    if (act != "silu")
        fail(source, "unsupported hidden_act '" + act + "' (supported: silu)");

    c.hiddenSize = r.requiredInt("hidden_size");
    c.intermediateSize = r.requiredInt("intermediate_size");
    c.numLayers = r.requiredInt("num_hidden_layers");
    c.numHeads = r.requiredInt("num_attention_heads");
    c.vocabSize = r.requiredInt("vocab_size");
    c.numKvHeads = r.optionalInt("num_key_value_heads", c.numHeads);
    if (r.find("head_dim")) {
        c.headDim = r.requiredInt("head_dim");
    } else {
        if (c.numHeads > 0 && c.hiddenSize % c.numHeads != 0)
            fail(source, "hidden_size " + std::to_string(c.hiddenSize) +
                             " is not divisible by num_attention_heads " +
                             std::to_string(c.numHeads) + " (and no head_dim is given)");
        c.headDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
    }
    c.maxPositions = r.optionalInt("max_position_embeddings", c.maxPositions);
    c.rmsNormEps = r.number("rms_norm_eps", c.rmsNormEps);
    c.ropeTheta = r.number("rope_theta", c.ropeTheta);
    if (const json* scaling = r.find("rope_scaling"))
        c.ropeScaling = parseRopeScaling(*scaling, source);
    c.tieWordEmbeddings = r.boolean("tie_word_embeddings", false);
    // Qwen2's attention always has q/k/v biases, whatever the config says.
    c.attentionBias = c.modelType == "qwen2" || r.boolean("attention_bias", false);
    c.mlpBias = r.boolean("mlp_bias", false);
    if (const json* bos = r.find("bos_token_id"))
        c.bosTokenId = r.tokenId(*bos, "bos_token_id");
    if (const json* eos = r.find("eos_token_id")) {
        if (eos->is_array()) {
            for (const auto& id : *eos)
                c.eosTokenIds.push_back(r.tokenId(id, "eos_token_id"));
        } else {
            c.eosTokenIds.push_back(r.tokenId(*eos, "eos_token_id"));
        }
    }
    // Newer Transformers write "dtype" instead of "torch_dtype".
    c.torchDtype = r.string("torch_dtype", r.string("dtype", c.torchDtype));
    c.validate(source);
    return c;
}

ModelConfig readModelConfig(const std::filesystem::path& path) {
    return parseModelConfig(readTextFile(path), path.string());
}

} // namespace rs
