#include "export/model_card.h"

#include "util/text.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace rs {

namespace {

std::string fixed(double v, int digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

std::string perplexityLine(const PerplexityResult& p) {
    return fixed(p.perplexity, 4) + " (" + p.protocol + " protocol, seq_len " +
           std::to_string(p.seqLen) + ", " + std::to_string(p.windows) + " windows, " +
           formatCount(p.predictedTokens) + " predicted tokens)";
}

const char* howToLoad(ExportFormat format) {
    switch (format) {
    case ExportFormat::Merged:
        return "A plain dense checkpoint: `AutoModelForCausalLM.from_pretrained(dir)` or any\n"
               "runtime that reads Hugging Face LLaMA checkpoints.\n";
    case ExportFormat::GptqPeft:
        return "The base is a GPTQ v1 checkpoint (`quantization_config` in config.json, also\n"
               "quantize_config.json): load it with GPTQModel, AutoGPTQ, Transformers + Optimum\n"
               "or vLLM. Layers listed below as dense are ordinary `.weight` tensors, excluded\n"
               "from quantization in `dynamic` (negative patterns), `modules_to_not_convert`\n"
               "and, where every block agrees, `modules_in_block_to_quantize`. The compensation\n"
               "is the PEFT LoRA adapter in `adapter/` (every scale lora_alpha / r = 1):\n"
               "`PeftModel.from_pretrained(base, dir + \"/adapter\")`, or vLLM's LoRA support.\n"
               "The adapter's `base_model_name_or_path` names the original model; load the\n"
               "GPTQ base from this directory, then the adapter onto it.\n";
    case ExportFormat::Factorized:
        return "Each factored linear <m> is two linears: `<m>.low_rank.0.weight` = A [r, d_in]\n"
               "then `<m>.low_rank.1.weight` = B [d_out, r]; a layer that keeps a dense base\n"
               "also has `<m>.weight`, and computes W x + B (A x). config.json field\n"
               "`rankscope_factorization` lists the ranks (`ranks`) and the layers with a dense\n"
               "base (`dense_base`). RankScope reads it back; other runtimes need the two\n"
               "linears created before loading (e.g. `nn.Sequential(Linear(d_in, r),\n"
               "Linear(r, d_out))`).\n";
    case ExportFormat::Gguf:
        return "`model.gguf` is a GGUF v3 file of llama.cpp's llama architecture with its\n"
               "tokenizer; decoder linears that the compression put on llama.cpp's own grids\n"
               "(q8_0, q4_0) are stored in those block types, bit for bit what RankScope\n"
               "compensated. The compensation is the GGUF LoRA adapter `adapter.gguf`:\n"
               "`llama-cli -m model.gguf --lora adapter.gguf` (llama.cpp, Ollama's ADAPTER,\n"
               "LM Studio). llama.cpp scales each pair by adapter.lora.alpha / rank; alpha is\n"
               "the most common rank, and a pair of another rank r carries r / alpha in its B,\n"
               "so that every pair acts at scale 1 when loaded at scale 1. q/k rows are in\n"
               "llama.cpp's RoPE order (B's rows too). config.json and the tokenizer files\n"
               "are the source's, for RankScope to read the export back.\n";
    }
    return "";
}

} // namespace

std::string modelCard(const ModelCardInfo& i) {
    std::ostringstream out;
    out << "# " << exportFormatName(i.format) << " export of RankScope experiment "
        << i.experimentId << "\n\n";
    out << "## Method\n\n"
        << "- source model: `" << i.sourceModel << "` (weights sha256 " << i.sourceHash << ")\n"
        << "- compression: `" << i.compression << "`\n"
        << "- compensation: `" << i.variant << "`\n"
        << "- calibration: " << i.calibration << "\n"
        << "- stored dtype of the produced tensors: " << i.dtype
        << (i.format == ExportFormat::Gguf
                ? " (every tensor other than a linear in llama.cpp's blocks; norms in float32; "
                  "tokenizer files copied unchanged)\n\n"
                : " (tokenizer files and every tensor other than the decoder linears are copied "
                  "unchanged)\n\n");
    out << "## Loading\n\n" << howToLoad(i.format) << "\n";
    out << "## Perplexity\n\n";
    if (i.evalText.empty()) {
        out << "Not measured (the experiment had no evaluation text).\n\n";
    } else {
        out << "On `" << i.evalText << "`:\n\n";
        if (i.inMemory)
            out << "- in RankScope before export: " << perplexityLine(*i.inMemory) << "\n";
        if (i.reloaded)
            out << "- this export read back by RankScope: " << perplexityLine(*i.reloaded) << "\n";
        if (i.inRuntimeDtype)
            out << "- read back and run in " << i.runtimeDtype
                << " (weights and activations, as half-precision runtimes compute): "
                << perplexityLine(*i.inRuntimeDtype) << "\n";
        if (i.inMemory && i.reloaded)
            out << "- relative difference: "
                << fixed(100.0 * std::abs(i.reloaded->perplexity - i.inMemory->perplexity) /
                             i.inMemory->perplexity,
                         4)
                << " %\n";
        out << "\n";
    }
    out << "## Size\n\n";
    uint64_t total = 0;
    out << "| file | bytes |\n|---|---:|\n";
    for (const auto& [file, bytes] : i.files) {
        out << "| " << file << " | " << bytes << " |\n";
        total += bytes;
    }
    out << "| total (without this card) | " << total << " |\n\n";
    if (i.written.linearWeights > 0)
        out << "Decoder linears: " << formatCount(i.written.linearWeights) << " weights stored in "
            << i.written.linearBytes << " bytes, "
            << fixed(8.0 * static_cast<double>(i.written.linearBytes) /
                         static_cast<double>(i.written.linearWeights),
                     3)
            << " bits per weight (everything that stands for them: packed codes, zeros, scales, "
               "group indices, dense layers and low-rank factors, in their stored dtypes).\n\n";
    if (i.format == ExportFormat::GptqPeft) {
        out << "Quantized layers: " << i.written.quantizedLayers << ". ";
        if (i.written.denseLayers.empty()) {
            out << "No layer is kept dense.\n";
        } else {
            out << "Kept dense (not quantized), with the reason:\n\n";
            for (const auto& [name, reason] : i.written.denseLayers)
                out << "- `" << name << "`: " << reason << "\n";
        }
    }
    if (!i.written.runtimeNotes.empty()) {
        out << "\n## Runtimes\n\n";
        for (const std::string& note : i.written.runtimeNotes)
            out << "- " << note << "\n";
    }
    return out.str();
}

} // namespace rs
