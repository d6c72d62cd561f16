#include "formats/export_format.h"

namespace rs {

const char* exportFormatName(ExportFormat format) {
    switch (format) {
    case ExportFormat::Merged:
        return "merged";
    case ExportFormat::GptqPeft:
        return "gptq+peft";
    case ExportFormat::Factorized:
        return "factorized";
    case ExportFormat::Gguf:
        return "gguf";
    }
    return "?";
}

std::optional<ExportFormat> parseExportFormat(std::string_view name) {
    for (ExportFormat f : kExportFormats)
        if (name == exportFormatName(f))
            return f;
    return std::nullopt;
}

std::string loraTensorName(const std::string& linear, char which) {
    return "base_model.model." + linear + ".lora_" + std::string(1, which) + ".weight";
}

} // namespace rs
