#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

// tst_tokenizer_files.cpp: the text the tokenizer tests encode, their fixtures, and tokenizer.json
// files written from the real vocabularies the way Hugging Face's converters write them.
namespace tokenizer_files {
std::vector<std::string> splitLines(const std::string& text);
const std::string& wikiText();
std::vector<std::string> wikiContentLines(size_t count);
std::vector<std::string> storyAndEdgeLines();
nlohmann::json readFixture(const std::string& name);
std::string caseText(const nlohmann::json& c, const std::vector<std::string>& wiki);
void writeGpt2Json(const std::filesystem::path& file, const std::filesystem::path& gpt2Dir,
                   bool mergesAsPairs);
void writeGpt2JsonWithPreTokenizer(const std::filesystem::path& file,
                                   const std::filesystem::path& gpt2Dir,
                                   const nlohmann::json& preTokenizer);
void writeLlama2Json(const std::filesystem::path& file, const std::filesystem::path& spModel,
                     const std::string& pipeline);
// Llama 3's split regex, as its tokenizer.json holds it.
const char* llama3Regex();
} // namespace tokenizer_files
