#include "data/hf_datasets_cache.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "core/error.h"
#include "core/file_io.h"

namespace bert {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : "";
}

std::string expand_home(const std::string& path) {
  if (path.rfind("~", 0) != 0) return path;
  return env("HOME") + path.substr(1);
}

// dataset_info.json of a cached copy: its config_name and its splits' names (none when absent:
// an incomplete copy).
struct CachedInfo {
  std::string config_name;
  std::vector<std::string> splits;
};

CachedInfo read_info(const fs::path& dir) {
  CachedInfo info;
  const std::string path = (dir / "dataset_info.json").string();
  if (!path_exists(path)) return info;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const std::string text = read_file(path);
  if (parser.parse(simdjson::padded_string(text)).get(root)) throw_input_error(path, "", "not valid JSON");
  std::string_view config;
  if (!root["config_name"].get_string().get(config)) info.config_name = std::string(config);
  simdjson::dom::object splits;
  if (!root["splits"].get_object().get(splits))
    for (const auto split : splits) info.splits.emplace_back(split.key);
  return info;
}

int64_t shard_count(const fs::path& dir, const std::string& split) {
  const std::string path = (dir / "dataset_info.json").string();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const std::string text = read_file(path);
  if (parser.parse(simdjson::padded_string(text)).get(root)) throw_input_error(path, "", "not valid JSON");
  simdjson::dom::array lengths;
  if (root["splits"][split]["shard_lengths"].get_array().get(lengths)) return 1;
  return std::max<int64_t>(1, int64_t(lengths.size()));
}

std::vector<fs::path> subdirectories(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error))
    if (it->is_directory(error)) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

// The dataset's directory: <root>/<ns>___<name>, or for a name without a namespace the one
// <root>/<ns>___<name> there is (datasets caches "squad" as rajpurkar___squad when the Hub
// resolved it so).
fs::path dataset_directory(const fs::path& root, const std::string& name, std::vector<std::string>* notes) {
  std::string relative;
  size_t begin = 0;
  while (true) {
    const size_t slash = name.find('/', begin);
    const std::string part = name.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
    relative += (relative.empty() ? "" : "___") + (slash == std::string::npos ? datasets_snake_case(part) : part);
    if (slash == std::string::npos) break;
    begin = slash + 1;
  }
  const fs::path direct = root / relative;
  if (fs::is_directory(direct) || name.find('/') != std::string::npos) return direct;
  std::vector<fs::path> namespaced;
  const std::string suffix = "___" + relative;
  for (const fs::path& dir : subdirectories(root)) {
    const std::string base = dir.filename().string();
    if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
      namespaced.push_back(dir);
  }
  if (namespaced.size() != 1) return direct;
  notes->push_back("--dataset_name " + name + ": the cache holds it as " + namespaced[0].string() +
                   " (the Hub's name for it)");
  return namespaced[0];
}

std::string not_cached_message(const std::string& name, const std::string& where) {
  return "not in the Hugging Face datasets cache (" + where + "); nothing is downloaded here. Load it once where "
         "the Hub can be reached (python -c \"import datasets; datasets.load_dataset('" + name + "')\", with the "
         "same --cache_dir or HF_DATASETS_CACHE), or fetch SQuAD v1.1's JSON files: curl -L -o train-v1.1.json "
         "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v1.1.json && curl -L -o dev-v1.1.json "
         "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json, then --train_file train-v1.1.json "
         "--validation_file dev-v1.1.json (README: Getting bert-base-uncased and SQuAD v1.1)";
}

}  // namespace

std::string datasets_cache_root(const std::string& cache_dir) {
  if (!cache_dir.empty()) return expand_home(cache_dir);
  if (!env("HF_DATASETS_CACHE").empty()) return expand_home(env("HF_DATASETS_CACHE"));
  if (!env("HF_HOME").empty()) return join_path(expand_home(env("HF_HOME")), "datasets");
  const std::string xdg = env("XDG_CACHE_HOME").empty() ? "~/.cache" : env("XDG_CACHE_HOME");
  return join_path(join_path(expand_home(xdg), "huggingface"), "datasets");
}

std::string datasets_snake_case(const std::string& name) {
  static const std::regex upper_upper("([A-Z]+)([A-Z][a-z])"), lower_upper("([a-z0-9])([A-Z])");
  std::string out = std::regex_replace(name, upper_upper, "$1_$2");
  out = std::regex_replace(out, lower_upper, "$1_$2");
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

CachedSplit find_cached_split(const std::string& root, const std::string& name, const std::string& config,
                              const std::string& split) {
  const std::string flag = "--dataset_name " + name + (config.empty() ? "" : " --dataset_config_name " + config);
  CachedSplit out;
  const fs::path base = dataset_directory(root, name, &out.notes);
  if (!fs::is_directory(base)) throw_input_error(flag, "", not_cached_message(name, "no " + base.string()));
  // <config>/<version>/<hash> whose dataset_info.json names that configuration, newest first.
  std::vector<fs::path> copies;
  std::vector<std::string> configs;
  for (const fs::path& config_dir : subdirectories(base)) {
    configs.push_back(config_dir.filename().string());
    if (!config.empty() && config_dir.filename() != config) continue;
    for (const fs::path& version : subdirectories(config_dir))
      for (const fs::path& hash : subdirectories(version))
        if (read_info(hash).config_name == config_dir.filename().string()) copies.push_back(hash);
  }
  if (copies.empty()) {
    std::string there;
    for (const std::string& c : configs) there += (there.empty() ? "" : ", ") + c;
    throw_input_error(flag, "", not_cached_message(name, base.string() + " holds no complete copy" +
                                                         (config.empty() ? "" : " of configuration " + config) +
                                                         (there.empty() ? "" : "; configurations there: " + there)));
  }
  std::stable_sort(copies.begin(), copies.end(), [](const fs::path& a, const fs::path& b) {
    return fs::last_write_time(a) > fs::last_write_time(b);
  });
  const fs::path chosen = copies.front();
  out.directory = chosen.string();
  out.config = chosen.parent_path().parent_path().filename().string();
  if (config.empty()) {
    std::vector<std::string> same_copy;  // datasets: several configurations of this version and hash
    for (const fs::path& c : copies)
      if (c.filename() == chosen.filename() && c.parent_path().filename() == chosen.parent_path().filename())
        same_copy.push_back(c.parent_path().parent_path().filename().string());
    if (same_copy.size() > 1) {
      std::string list;
      for (const std::string& c : same_copy) list += (list.empty() ? "" : ", ") + c;
      throw_input_error(flag, "", "several configurations are cached (" + list +
                                      "): give --dataset_config_name, as load_dataset asks");
    }
  }
  const CachedInfo info = read_info(chosen);
  if (std::find(info.splits.begin(), info.splits.end(), split) == info.splits.end()) {
    std::string have;
    for (const std::string& s : info.splits) have += (have.empty() ? "" : ", ") + s;
    throw_input_error(flag, "", "the cached copy " + out.directory + " has no split '" + split + "' (it has: " +
                                    have + ")");
  }
  const std::string prefix = datasets_snake_case(name.substr(name.rfind('/') + 1)) + "-" + split;
  const int64_t shards = shard_count(chosen, split);
  for (int64_t i = 0; i < shards; ++i) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, "-%05lld-of-%05lld", static_cast<long long>(i), static_cast<long long>(shards));
    const std::string file = (chosen / (prefix + (shards > 1 ? suffix : "") + ".arrow")).string();
    if (!path_exists(file)) throw_input_error(flag, "", "the cached copy " + out.directory + " lacks " + file);
    out.files.push_back(file);
  }
  out.notes.push_back(flag + ": split " + split + " from " + out.directory + " (" + std::to_string(shards) +
                      (shards == 1 ? " file" : " shards") + ")");
  return out;
}

}  // namespace bert
