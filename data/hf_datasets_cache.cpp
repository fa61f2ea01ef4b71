#include "data/hf_datasets_cache.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <string>
#include <tuple>

#include "core/error.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "data/squad_arrow.h"

namespace bert {
namespace {

namespace fs = std::filesystem;

// dataset_info.json of a cached copy: its config_name, and its splits with their shard counts
// (1: one file); no splits when absent (an incomplete copy).
struct CachedInfo {
  std::string config_name;
  std::vector<std::pair<std::string, int64_t>> splits;
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
  if (!root["splits"].get_object().get(splits)) {
    for (const auto split : splits) {
      simdjson::dom::array lengths;
      const bool sharded = !split.value["shard_lengths"].get_array().get(lengths) && lengths.size() > 1;
      info.splits.emplace_back(std::string(split.key), sharded ? int64_t(lengths.size()) : 1);
    }
  }
  return info;
}

// A copy of the dataset: <config>/<version>/<hash> and its dataset_info.json.
struct CachedCopy {
  fs::path dir;
  CachedInfo info;
  std::string config() const { return dir.parent_path().parent_path().filename().string(); }
  bool same_version_and_hash(const CachedCopy& other) const {
    return dir.filename() == other.dir.filename() && dir.parent_path().filename() == other.dir.parent_path().filename();
  }
};

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
  // datasets: the namespace's parts and the snake-cased name, joined by "___".
  const size_t slash = name.rfind('/');
  std::string relative = datasets_snake_case(name.substr(slash == std::string::npos ? 0 : slash + 1));
  if (slash != std::string::npos) {
    std::string space = name.substr(0, slash);
    for (size_t at = space.find('/'); at != std::string::npos; at = space.find('/', at + 3)) space.replace(at, 1, "___");
    relative = space + "___" + relative;
  }
  const fs::path direct = root / relative;
  if (fs::is_directory(direct) || slash != std::string::npos) return direct;
  std::vector<fs::path> namespaced;
  for (const fs::path& dir : subdirectories(root))
    if (dir.filename().string().size() > relative.size() + 3 && ends_with(dir.filename().string(), "___" + relative))
      namespaced.push_back(dir);
  if (namespaced.size() != 1) return direct;
  notes->push_back("--dataset_name " + name + ": the cache holds it as " + namespaced[0].string() +
                   " (the Hub's name for it)");
  return namespaced[0];
}

// Where the SQuAD files of a dataset named so can be fetched instead: v2.0's for squad_v2
// (any owner), v1.1's for squad, nothing for another dataset.
std::string squad_files_hint(const std::string& name) {
  const std::string base = datasets_snake_case(name.substr(name.rfind('/') + 1));
  const char* const kSite = "https://rajpurkar.github.io/SQuAD-explorer/dataset/";
  for (const auto& [dataset, version, flag] :
       {std::tuple<const char*, const char*, const char*>{"squad_v2", "v2.0",
                                                          " --version_2_with_negative"},
        {"squad", "v1.1", ""}}) {
    if (base != dataset) continue;
    const std::string train = std::string("train-") + version + ".json",
                      dev = std::string("dev-") + version + ".json";
    return std::string(", or fetch SQuAD ") + version + "'s JSON files: curl -fL -o " + train +
           " " + kSite + train + " && curl -fL -o " + dev + " " + kSite + dev +
           ", then --train_file " + train + " --validation_file " + dev + flag +
           " (README: Getting bert-base-uncased and SQuAD v1.1)";
  }
  return ", or give its files in SQuAD's JSON form as --train_file / --validation_file";
}

// load_dataset takes a name that is an existing directory as a local dataset folder (its data
// files), before any Hub id. Its cached copies cannot be told apart here: datasets 5 files every
// folder of one name under that name, its hash taken over the files' paths and times, and
// records neither in dataset_info.json; so the folder's files are asked for instead.
[[noreturn]] void refuse_local_folder(const std::string& flag, const std::string& name) {
  throw_input_error(
      flag, "",
      "a local dataset folder (load_dataset reads its data files, as it does for any existing "
      "directory of that name, a Hub id's included): give them as --train_file / "
      "--validation_file / --test_file (JSON or JSON Lines, SQuAD's layout or datasets' rows); "
      "other formats (parquet, csv) converted once with python -c \"import datasets; "
      "d = datasets.load_dataset('" +
          name + "'); [d[s].to_json(s + '.jsonl') for s in d]\"");
}

std::string not_cached_message(const std::string& name, const std::string& where) {
  return "not in the Hugging Face datasets cache (" + where +
         "); nothing is downloaded here. Load it once where "
         "the Hub can be reached (python -c \"import datasets; datasets.load_dataset('" +
         name +
         "')\", with the "
         "same --cache_dir or HF_DATASETS_CACHE)" +
         squad_files_hint(name);
}

}  // namespace

std::string datasets_cache_root(const std::string& cache_dir) {
  if (!cache_dir.empty()) return expand_user(cache_dir);
  if (!environment_variable("HF_DATASETS_CACHE").empty()) return expand_user(environment_variable("HF_DATASETS_CACHE"));
  return join_path(huggingface_home(), "datasets");
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
  std::error_code error;
  if (fs::is_directory(expand_user(name), error)) refuse_local_folder(flag, name);
  const fs::path base = dataset_directory(root, name, &out.notes);
  if (!fs::is_directory(base))
    throw_input_error(flag, "", not_cached_message(name, "no " + base.string()));
  // <config>/<version>/<hash> whose dataset_info.json names that configuration, newest first.
  std::vector<CachedCopy> copies;
  std::vector<std::string> configs;
  for (const fs::path& config_dir : subdirectories(base)) {
    configs.push_back(config_dir.filename().string());
    if (!config.empty() && config_dir.filename() != config) continue;
    for (const fs::path& version : subdirectories(config_dir))
      for (const fs::path& hash : subdirectories(version)) {
        // A copy being written (or whose writer died) is not read, even with its info written.
        if (ends_with(hash.filename().string(), ".incomplete")) continue;
        CachedCopy copy{hash, read_info(hash)};
        if (copy.info.config_name == config_dir.filename().string()) copies.push_back(std::move(copy));
      }
  }
  if (copies.empty())
    throw_input_error(flag, "", not_cached_message(name, base.string() + " holds no complete copy" +
                                                         (config.empty() ? "" : " of configuration " + config) +
                                                         (configs.empty() ? "" : "; configurations there: " +
                                                                                     joined(configs))));
  std::stable_sort(copies.begin(), copies.end(), [](const CachedCopy& a, const CachedCopy& b) {
    return fs::last_write_time(a.dir) > fs::last_write_time(b.dir);
  });
  const CachedCopy& chosen = copies.front();
  out.directory = chosen.dir.string();
  out.config = chosen.config();
  if (config.empty()) {
    std::vector<std::string> same_copy;  // datasets: several configurations of this version and hash
    for (const CachedCopy& c : copies)
      if (c.same_version_and_hash(chosen)) same_copy.push_back(c.config());
    if (same_copy.size() > 1)
      throw_input_error(flag, "", "several configurations are cached (" + joined(same_copy) +
                                      "): give --dataset_config_name, as load_dataset asks");
  }
  const auto found = std::find_if(chosen.info.splits.begin(), chosen.info.splits.end(),
                                  [&](const auto& s) { return s.first == split; });
  if (found == chosen.info.splits.end()) {
    std::vector<std::string> have;
    for (const auto& s : chosen.info.splits) have.push_back(s.first);
    throw_input_error(flag, "", "the cached copy " + out.directory + " has no split '" + split + "' (it has: " +
                                    joined(have) + ")");
  }
  const int64_t shards = found->second;
  const std::string prefix =
      (chosen.dir / (datasets_snake_case(name.substr(name.rfind('/') + 1)) + "-" + split)).string();
  const std::string first = shards > 1 ? arrow_shard_name(prefix, 0, shards) : prefix + ".arrow";
  if (!path_exists(first)) throw_input_error(flag, "", "the cached copy " + out.directory + " lacks " + first);
  out.files = arrow_shard_paths(first);  // the other shards, each checked
  out.notes.push_back(flag + ": split " + split + " from " + out.directory + " (" + std::to_string(shards) +
                      (shards == 1 ? " file" : " shards") + ")");
  return out;
}

}  // namespace bert
