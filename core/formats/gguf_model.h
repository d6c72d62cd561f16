#pragma once

#include "arch/model_config.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

#include <ATen/core/Tensor.h>
#include <optional>
#include <string>
#include <vector>

// A LLaMA-family checkpoint as llama.cpp's "llama" architecture stores it in GGUF
// (docs/design.md §3): Hugging Face tensor names mapped to llama.cpp's, q/k rows in llama.cpp's
// RoPE order, and the metadata llama.cpp requires, with the exact integer types it reads.
namespace rs::gguf {

inline constexpr const char* kArchitecture = "llama";
inline constexpr const char* kModelFile = "model.gguf";
inline constexpr const char* kAdapterFile = "adapter.gguf";

// Fails "<source>: <problem>" for what llama.cpp's llama architecture cannot run as RankScope does:
// biases, RoPE scaling.
void requireLlamaArchitecture(const ModelConfig& config, const std::string& source);

// "model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight", "model.embed_tokens.weight"
// -> "token_embd.weight", "lm_head.weight" -> "output.weight"; nullopt for a name llama.cpp has
// no place for.
std::optional<std::string> tensorName(const std::string& hfName);

// Hugging Face's q/k rows hold each head's rotated pairs half a head apart; llama.cpp's llama
// RoPE takes them adjacent. toLlamaCppRows reorders the rows (dim 0) of a q/k weight, of its
// encoded blocks [d_out, bytes per row] or of a LoRA B [d_out, r]; any other tensor is returned
// as it is. fromLlamaCppRows undoes it.
at::Tensor toLlamaCppRows(const at::Tensor& rows, const std::string& hfName,
                          const ModelConfig& config);
at::Tensor fromLlamaCppRows(const at::Tensor& rows, const std::string& hfName,
                            const ModelConfig& config);

// general.* and llama.* keys of a model file: its name, file type (ggml's LLAMA_FTYPE number)
// and architecture.
std::vector<KeyValue> modelMetadata(const ModelConfig& config, const std::string& name,
                                    uint32_t fileType);

// tokenizer.ggml.* keys: the vocabulary as llama.cpp's "llama" (SentencePiece) or "gpt2"
// (byte-level BPE) tokenizer, its special ids, BOS added at the start of a text as RankScope's
// protocols do.
std::vector<KeyValue> vocabularyMetadata(const Vocabulary& vocabulary, int32_t bosId,
                                         int32_t eosId);

// The keys of a LoRA adapter for the llama architecture; llama.cpp scales every pair by
// alpha / its rank.
std::vector<KeyValue> adapterMetadata(const std::string& name, float alpha);

// The LoRA tensor names llama.cpp pairs with a base tensor: "<base>.lora_a", "<base>.lora_b".
std::string loraTensorName(const std::string& ggufBase, char which); // 'a' or 'b'

} // namespace rs::gguf
