// The Hugging Face Hub cache as huggingface_hub lays it out, which from_pretrained reads when a
// Hub id was downloaded before (transformers' offline mode): a Hub id given as
// --model_name_or_path resolves to its cached snapshot, and nothing is downloaded.
//
//   <root>/models--<org>--<name>/refs/<revision>        a commit hash (main, a tag, a branch)
//   <root>/models--<org>--<name>/snapshots/<hash>/...    the files (links into ../blobs)
//
// <root>: the --cache_dir given, else $HF_HUB_CACHE, $HUGGINGFACE_HUB_CACHE (its older name),
// $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub (huggingface_hub's order).
#pragma once

#include <string>

namespace bert {

// "bert-base-uncased", "google-bert/bert-base-uncased": what from_pretrained would fetch.
bool looks_like_hub_id(const std::string& name);

// The cache's root for a --cache_dir ("" when not given).
std::string hub_cache_root(const std::string& cache_dir);

// The snapshot directory of repo_id at `revision` (a name under refs/, or a 40-hex commit hash),
// "" when the cache holds none; *searched names what was looked for (for messages).
std::string find_hub_snapshot(const std::string& root, const std::string& repo_id, const std::string& revision,
                              std::string* searched);

// The command that downloads what a model directory needs from the Hub into ./<name>.
std::string hub_download_hint(const std::string& repo_id);

}  // namespace bert
