#pragma once

#include <optional>
#include <string>
#include <string_view>

// The names that define RankScope's export formats (docs/design.md §3, README "Exports"): shared by
// the writers in core/export and the reader here, which the model session uses to open an
// export like any checkpoint.
namespace rs {

enum class ExportFormat { Merged, GptqPeft, Factorized, Gguf };
inline constexpr ExportFormat kExportFormats[] = {ExportFormat::Merged, ExportFormat::GptqPeft,
                                                  ExportFormat::Factorized, ExportFormat::Gguf};

// "merged", "gptq+peft", "factorized", "gguf"
const char* exportFormatName(ExportFormat format);
std::optional<ExportFormat> parseExportFormat(std::string_view name);

// Names used by the PEFT adapter (the factorized format's are lowRankTensorName() of
// model/llama.h, which the model reads directly).
std::string loraTensorName(const std::string& linear, char which); // 'A' or 'B'
inline constexpr const char* kFactorizationField = "rankscope_factorization";
inline constexpr const char* kAdapterDir = "adapter";
// The file every export carries; its presence is what lets --force replace a directory.
inline constexpr const char* kExportManifest = "rankscope_export.json";

} // namespace rs
