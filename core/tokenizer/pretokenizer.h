#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

// Pre-tokenizers of Hugging Face tokenizer.json files: they cut text into the pieces ("words")
// that BPE then encodes one by one. Pieces are views into the input and cover it completely.
namespace rs::tok {

// std::regex has no \p{..} classes, so the split regexes real models use are recognised by their
// exact text and matched by hand. Both known families share one shape; the fields say where the
// Llama-3 family departs from GPT-2.
struct SplitPattern {
    // (?i:'s|'t|...) instead of 's|'t|...
    bool caseInsensitiveContractions = false;
    // [^\r\n\p{L}\p{N}]?\p{L}+ instead of " ?\p{L}+", and the [\r\n] alternatives.
    bool llama3Style = false;
    // \p{N}{1,maxDigits}; 0 means " ?\p{N}+" (GPT-2).
    int maxDigits = 0;
};

// The GPT-2 pattern, also what a ByteLevel pre-tokenizer with use_regex applies.
SplitPattern gpt2SplitPattern();

// Recognises the GPT-2, Llama-3 (\p{N}{1,3}) and Qwen2 (\p{N}) patterns; nullopt for any other.
std::optional<SplitPattern> recognizeSplitPattern(std::string_view regex);

// Appends the regex matches of `text` (which cover it, as the patterns match every character).
void splitByPattern(std::string_view text, const SplitPattern& pattern,
                    std::vector<std::string_view>& out);

// The Digits pre-tokenizer: every \p{N} character alone (individual) or runs of them isolated.
void splitDigits(std::string_view text, bool individual, std::vector<std::string_view>& out);

// Splits before every occurrence of `marker` (Metaspace with split: the marker starts a piece).
void splitBeforeMarker(std::string_view text, std::string_view marker,
                       std::vector<std::string_view>& out);

// SentencePiece-style BPE runs over a whole text, unsplit. No merge can join a word-start marker
// (U+2581, or llama2.c's space) to the text before it unless some piece contains the marker right
// after other text; when no piece does, the text may be cut before every marker that follows
// other text and the parts encoded separately (and cached), with the same result.
bool joinsAcrossMarker(std::string_view piece, std::string_view marker);
void cutBeforeWordStarts(std::string_view text, std::string_view marker,
                         std::vector<std::string_view>& out);

// Cuts `text` before its word starts (as above) and encodes each distinct word once with
// `encodeWord`, concatenating the ids: texts repeat their words.
std::vector<int32_t>
encodeWordByWord(std::string_view text, std::string_view marker,
                 const std::function<std::vector<int32_t>(std::string_view)>& encodeWord);

} // namespace rs::tok
