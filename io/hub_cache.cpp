// The Hugging Face Hub cache's layout. See hub_cache.h.
#include "io/hub_cache.h"

#include <regex>

#include "core/file_io.h"
#include "core/strings.h"

namespace bert {
namespace {

bool is_commit_hash(const std::string& text) {
  static const std::regex pattern("^[0-9a-f]{40}$");
  return std::regex_match(text, pattern);
}

// A revision names a file under refs/: no empty parts, no "..", no absolute path.
bool is_ref_name(const std::string& revision) {
  static const std::regex pattern(R"(^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$)");
  return std::regex_match(revision, pattern) && revision.find("..") == std::string::npos;
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

}  // namespace

bool looks_like_hub_id(const std::string& name) {
  static const std::regex pattern(R"(^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$)");
  return std::regex_match(name, pattern) && name.find("..") == std::string::npos;
}

std::string hub_cache_root(const std::string& cache_dir) {
  if (!cache_dir.empty()) return cache_dir;
  for (const char* name : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
    if (!environment_variable(name).empty()) return expand_user(environment_variable(name));
  return join_path(huggingface_home(), "hub");
}

std::string find_hub_snapshot(const std::string& root, const std::string& repo_id, const std::string& revision,
                              std::string* searched) {
  std::string folder = "models--" + repo_id;
  for (size_t at = folder.find('/'); at != std::string::npos; at = folder.find('/', at + 2)) folder.replace(at, 1, "--");
  const std::string repo = join_path(root, folder);
  std::string commit = revision;
  if (!is_commit_hash(revision)) {
    const std::string ref = join_path(repo, "refs/" + revision);
    *searched = ref;
    if (!is_ref_name(revision) || !path_exists(ref)) return "";
    commit = trimmed(read_file(ref));
    if (!is_commit_hash(commit)) {  // not a file huggingface_hub wrote
      *searched =
          ref + ", which holds \"" + commit.substr(0, 60) + "\", not a 40-digit commit hash";
      return "";
    }
  }
  const std::string snapshot = join_path(repo, "snapshots/" + commit);
  *searched = is_commit_hash(revision) ? snapshot : searched->append(", then ").append(snapshot);
  return path_exists(snapshot) ? snapshot : "";
}

std::string hub_download_hint(const std::string& repo_id) {
  const std::string local = repo_id.substr(repo_id.find('/') == std::string::npos ? 0 : repo_id.find('/') + 1);
  return "`hf download " + repo_id +
         " config.json vocab.txt model.safetensors tokenizer_config.json --local-dir " + local +
         "` and pass --model_name_or_path " + local;
}

}  // namespace bert
