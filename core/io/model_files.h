#pragma once

#include "util/progress.h"

#include <filesystem>
#include <string>
#include <vector>

// The files beside a model's weights that change what it computes (config.json,
// generation_config.json) or how text becomes tokens (the tokenizer files). A run records them so
// that a later export can tell whether the model it reproduces is still the one that ran.
namespace rs {

// config.json, generation_config.json, tokenizer*, vocab.json, merges.txt, special_tokens_map.json,
// added_tokens.json, chat_template.json/.jinja.
bool isModelSideFile(const std::string& fileName);

struct ModelFile {
    std::string name;   // file name inside the model directory
    std::string sha256; // of its bytes
    std::string text;   // config.json and generation_config.json verbatim, so changes can be named
};

// The side files of a model directory, sorted by name; none for a single-file checkpoint (a
// llama2.c .bin carries its configuration inside the hashed weights). Throws rs::Error naming an
// unreadable file.
std::vector<ModelFile> readModelFiles(const std::filesystem::path& checkpoint,
                                      const JobContext& job = {});

std::string modelFilesJson(const std::vector<ModelFile>& files);
// Throws rs::Error "<context>: ..." for JSON that is not a list of such files.
std::vector<ModelFile> parseModelFiles(const std::string& json, const std::string& context);

// What differs from the recorded files, one phrase each: "config.json changed (rope_theta:
// 10000 -> 500000)", "tokenizer.json changed", "generation_config.json was removed",
// "added_tokens.json was added". Empty when nothing did.
std::vector<std::string> modelFileChanges(const std::vector<ModelFile>& recorded,
                                          const std::vector<ModelFile>& current);

} // namespace rs
