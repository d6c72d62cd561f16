// export: write a stored experiment as a deployable checkpoint (merged, GPTQ base + PEFT
// adapter, factorized), verified by reading it back.
#include "commands.h"
#include "export/export_job.h"
#include "store/experiment_store.h"
#include "util/error.h"
#include "util/text.h"

#include <cstdio>

namespace rs::cli {

namespace {

int runExport(const ParsedArgs& args, const JobContext& job) {
    ExportRequest request;
    try {
        size_t used = 0;
        request.experimentId = std::stoll(args.positional(0), &used);
        if (used != args.positional(0).size() || request.experimentId < 1)
            throw std::invalid_argument("id");
    } catch (const std::exception&) {
        throw UsageError("an experiment ID is a positive integer, got '" + args.positional(0) +
                         "'");
    }
    request.outDir = args.positional(1);
    const auto format = args.value("--format");
    if (!format)
        throw UsageError("'export' needs --format gptq+peft|merged|factorized|gguf");
    const auto parsed = parseExportFormat(*format);
    if (!parsed)
        throw UsageError("unknown format '" + *format + "' (gptq+peft, merged, factorized, gguf)");
    request.format = *parsed;
    request.dtype = args.valueOr("--dtype", "");
    if (!request.dtype.empty() && request.dtype != "float32" && request.dtype != "bfloat16" &&
        request.dtype != "float16")
        throw UsageError("--dtype must be float32, bfloat16 or float16");
    request.variant = args.valueOr("--variant", "");
    request.force = args.flag("--force");

    const auto store = openRecordedStore(args);
    ExportOptions options;
    options.device = args.valueOr("--device", "cpu");
    const ExportResult r = exportExperiment(*store, request, job, options);

    std::printf("exported experiment %lld, variant %s, as %s (%s) to %s\n",
                static_cast<long long>(request.experimentId), r.variant.c_str(), r.format.c_str(),
                r.dtype.c_str(), r.path.string().c_str());
    for (const auto& [file, bytes] : r.files)
        std::printf("  %-40s %12s\n", file.c_str(), formatBytes(bytes).c_str());
    std::printf("  %-40s %12s\n", "total", formatBytes(r.bytes).c_str());
    for (const auto& [layer, reason] : r.written.denseLayers)
        std::printf("kept dense (not quantized): %s: %s\n", layer.c_str(), reason.c_str());
    for (const std::string& note : r.written.runtimeNotes)
        std::printf("note: %s\n", note.c_str());
    if (r.written.linearWeights > 0)
        std::printf("decoder linears: %.3f bits per weight as stored\n",
                    8.0 * static_cast<double>(r.written.linearBytes) /
                        static_cast<double>(r.written.linearWeights));
    if (r.inMemory && r.reloaded)
        std::printf(
            "perplexity: in memory %.4f, read back %.4f (difference %.4f %%; %s, "
            "%lld predicted tokens)\n",
            r.inMemory->perplexity, r.reloaded->perplexity,
            100.0 * (r.reloaded->perplexity - r.inMemory->perplexity) / r.inMemory->perplexity,
            r.reloaded->protocol.c_str(), static_cast<long long>(r.reloaded->predictedTokens));
    if (r.inMemory && r.inRuntimeDtype)
        std::printf("perplexity in %s (as half-precision runtimes compute): %.4f (%+.4f %%)\n",
                    r.runtimeDtype.c_str(), r.inRuntimeDtype->perplexity,
                    100.0 * (r.inRuntimeDtype->perplexity - r.inMemory->perplexity) /
                        r.inMemory->perplexity);
    std::printf("content hash %s, recorded as export %lld\n", r.contentHash.c_str(),
                static_cast<long long>(r.exportId));
    return kExitOk;
}

} // namespace

std::vector<Command> exportCommands() {
    return {{{"export",
              "EXPERIMENT_ID OUT_DIR --format gptq+peft|merged|factorized|gguf [--dtype D] "
              "[--variant LABEL] [--force]",
              "Write one variant of a finished experiment as a checkpoint directory: merged\n"
              "(dense W_c + B A), gptq+peft (GPTQ v1 base + PEFT LoRA adapter in adapter/),\n"
              "factorized (base and factor pair as separate linears) or gguf (model.gguf for\n"
              "llama.cpp, q8_0/q4_0 layers in its own types, + adapter.gguf LoRA). The\n"
              "compression is run again from the stored request and checked against the\n"
              "stored perplexity; the export is written beside OUT_DIR, read back and\n"
              "re-evaluated, then moved into place and recorded in the store.",
              {"EXPERIMENT_ID", "OUT_DIR"},
              {{"--format", "F", "gptq+peft, merged, factorized or gguf"},
               {"--dtype", "D",
                "float32, bfloat16 or float16 for the produced tensors "
                "(default: the model's)"},
               {"--variant", "LABEL", "which variant, e.g. eora@8 (default: the compensated one)"},
               {"--force", "", "replace OUT_DIR when it holds an earlier export"},
               kDb,
               kDevice}},
             runExport}};
}

} // namespace rs::cli
