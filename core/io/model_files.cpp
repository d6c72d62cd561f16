#include "io/model_files.h"

#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace rs {

namespace fs = std::filesystem;

namespace {

// Files whose text is kept: small, and a change in them is best named key by key.
bool keepsText(const std::string& name) {
    return name == "config.json" || name == "generation_config.json";
}

std::string shortValue(const nlohmann::json& value) {
    std::string text = value.dump();
    constexpr size_t kMaxChars = 40;
    if (text.size() > kMaxChars)
        text = text.substr(0, kMaxChars - 3) + "...";
    return text;
}

// "rope_theta: 10000 -> 500000, max_position_embeddings: 512 -> (removed)"; empty when either
// text is not a JSON object.
// Both texts are JSON with the same content, however laid out (re-indented, keys reordered).
bool sameJson(const std::string& before, const std::string& after) {
    if (before.empty() || after.empty())
        return false;
    const nlohmann::json a = nlohmann::json::parse(before, nullptr, false);
    return !a.is_discarded() && a == nlohmann::json::parse(after, nullptr, false);
}

std::string changedKeys(const std::string& before, const std::string& after) {
    const nlohmann::json a = nlohmann::json::parse(before, nullptr, false);
    const nlohmann::json b = nlohmann::json::parse(after, nullptr, false);
    if (!a.is_object() || !b.is_object())
        return {};
    std::set<std::string> keys;
    for (const auto& [key, value] : a.items())
        keys.insert(key);
    for (const auto& [key, value] : b.items())
        keys.insert(key);
    std::vector<std::string> changes;
    for (const std::string& key : keys) {
        const auto x = a.find(key), y = b.find(key);
        const bool inA = x != a.end(), inB = y != b.end();
        if (inA && inB && *x == *y)
            continue;
        changes.push_back(key + ": " + (inA ? shortValue(*x) : "(absent)") + " -> " +
                          (inB ? shortValue(*y) : "(removed)"));
    }
    constexpr size_t kMaxKeys = 4;
    std::string out;
    for (size_t i = 0; i < std::min(changes.size(), kMaxKeys); ++i)
        out += (i ? ", " : "") + changes[i];
    if (changes.size() > kMaxKeys)
        out += " and " + std::to_string(changes.size() - kMaxKeys) + " more";
    return out;
}

} // namespace

bool isModelSideFile(const std::string& name) {
    static const std::set<std::string> exact{
        "config.json", "generation_config.json", "special_tokens_map.json", "vocab.json",
        "merges.txt",  "added_tokens.json",      "chat_template.json",      "chat_template.jinja"};
    return exact.count(name) > 0 || name.rfind("tokenizer", 0) == 0;
}

std::vector<ModelFile> readModelFiles(const fs::path& checkpoint, const JobContext& job) {
    std::error_code error;
    if (!fs::is_directory(checkpoint, error))
        return {};
    std::vector<ModelFile> files;
    for (fs::directory_iterator it(checkpoint, error), end; !error && it != end;
         it.increment(error)) {
        const std::string name = it->path().filename().string();
        std::error_code entryError;
        if (!isModelSideFile(name) || !it->is_regular_file(entryError))
            continue;
        ModelFile file{name, sha256File(it->path(), job), {}};
        if (keepsText(name))
            file.text = readTextFile(it->path());
        files.push_back(std::move(file));
    }
    if (error)
        fail(checkpoint.string(), "cannot list the directory (" + error.message() + ")");
    std::sort(files.begin(), files.end(),
              [](const ModelFile& a, const ModelFile& b) { return a.name < b.name; });
    return files;
}

std::string modelFilesJson(const std::vector<ModelFile>& files) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelFile& f : files) {
        nlohmann::json entry{{"name", f.name}, {"sha256", f.sha256}};
        if (!f.text.empty())
            entry["text"] = f.text;
        out.push_back(std::move(entry));
    }
    return out.dump();
}

std::vector<ModelFile> parseModelFiles(const std::string& json, const std::string& context) {
    const nlohmann::json list = nlohmann::json::parse(json, nullptr, false);
    if (!list.is_array())
        fail(context, "the recorded model files are not a JSON list");
    std::vector<ModelFile> files;
    for (const nlohmann::json& entry : list) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
            !entry.contains("sha256") || !entry["sha256"].is_string())
            fail(context, "a recorded model file lacks its name or hash");
        ModelFile f{entry["name"].get<std::string>(), entry["sha256"].get<std::string>(), {}};
        if (const auto text = entry.find("text"); text != entry.end() && text->is_string())
            f.text = text->get<std::string>();
        files.push_back(std::move(f));
    }
    return files;
}

std::vector<std::string> modelFileChanges(const std::vector<ModelFile>& recorded,
                                          const std::vector<ModelFile>& current) {
    std::map<std::string, const ModelFile*> now;
    for (const ModelFile& f : current)
        now[f.name] = &f;
    std::vector<std::string> changes;
    for (const ModelFile& before : recorded) {
        const auto it = now.find(before.name);
        if (it == now.end()) {
            changes.push_back(before.name + " was removed");
            continue;
        }
        const ModelFile& after = *it->second;
        now.erase(it);
        if (after.sha256 == before.sha256 || sameJson(before.text, after.text))
            continue;
        const std::string keys = changedKeys(before.text, after.text);
        changes.push_back(before.name + " changed" + (keys.empty() ? "" : " (" + keys + ")"));
    }
    for (const auto& [name, file] : now)
        changes.push_back(name + " was added");
    return changes;
}

} // namespace rs
