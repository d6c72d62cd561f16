#pragma once

// Models the GGUF tests export (tst_gguf_export.cpp, tst_llama_cpp.cpp): a small random-weight
// llama beside a real tokenizer's files, and the GGUF export of a model's unchanged weights.
#include "export/export_writer.h"
#include "export/source_model.h"
#include "model/synthetic.h"
#include "testdata.h"

#include <filesystem>
#include <vector>

namespace rs::test {

// One decoder block of width 32 (2 heads of 16), tied embeddings of `vocab` rows, weights ~ N(0,
// 0.02); `tokenizerFiles` are copied beside it.
inline std::filesystem::path
writeTinyLlama(const std::filesystem::path& dir, int64_t vocab,
               const std::vector<std::filesystem::path>& tokenizerFiles, uint64_t seed) {
    rs::ModelConfig config;
    config.hiddenSize = 32;
    config.intermediateSize = 64;
    config.numLayers = 1;
    config.numHeads = 2;
    config.numKvHeads = 2;
    config.headDim = 16;
    config.vocabSize = vocab;
    config.maxPositions = 128;
    config.tieWordEmbeddings = true;
    rs::writeRandomLlama(dir, config, seed);
    for (const std::filesystem::path& file : tokenizerFiles)
        std::filesystem::copy_file(file, dir / file.filename());
    return dir;
}

// writeTinyLlama with GPT-2's byte-level BPE (vocab.json + merges.txt, 50257 tokens).
inline std::filesystem::path writeGpt2Llama(const std::filesystem::path& dir, uint64_t seed) {
    const std::filesystem::path gpt2 = rs::test::dataPath("tokenizers/gpt2");
    return writeTinyLlama(dir, 50257, {gpt2 / "vocab.json", gpt2 / "merges.txt"}, seed);
}

// The model's own weights as a GGUF export in `out` (no linear replaced, no adapter).
inline void writeUnchangedGguf(const std::filesystem::path& model,
                               const std::filesystem::path& out) {
    const rs::SourceModel source = rs::readSourceModel(model);
    rs::ExportContent content;
    content.source = &source;
    content.adapterBase = source.dir.filename().string();
    std::filesystem::create_directories(out);
    rs::writeExport(out, rs::ExportFormat::Gguf, content);
}

} // namespace rs::test
