// Hugging Face datasets' cache, read the way load_dataset(name, config) reads it offline
// (datasets 5.2's packaged_modules/cache: _find_hash_in_cache): a Hub dataset it has loaded
// lives in <root>/<namespace>___<snake_case name>/<config>/<version>/<hash>/ with a
// dataset_info.json and, per split, <name>-<split>.arrow or shards
// <name>-<split>-00000-of-0000N.arrow. Nothing is downloaded here: this is how train_squad's
// --dataset_name finds what an earlier load_dataset left on the machine.
#pragma once

#include <string>
#include <vector>

namespace bert {

// The cache root: cache_dir when given (run_qa passes --cache_dir to load_dataset), else
// $HF_DATASETS_CACHE, $HF_HOME/datasets, $XDG_CACHE_HOME/huggingface/datasets or
// ~/.cache/huggingface/datasets (datasets' config.py order).
std::string datasets_cache_root(const std::string& cache_dir);

// datasets' camelcase_to_snakecase: "SQuAD" -> "s_qu_ad", "squad_v2" unchanged.
std::string datasets_snake_case(const std::string& name);

struct CachedSplit {
  std::string directory;          // <root>/<ns>___<name>/<config>/<version>/<hash>
  std::string config;             // the configuration's name (the directory's)
  std::vector<std::string> files;  // the split's Arrow files, in shard order
  std::vector<std::string> notes;  // how the choice was made, for the log
};

// The newest cached copy of `name` (configuration `config`, or the only one cached when empty)
// and its `split`. InputError when it is not cached (naming where it looked and what is
// there), when several configurations are cached and none was given, or when the split or a
// shard is missing; the message says how to fill the cache or fetch files instead.
CachedSplit find_cached_split(const std::string& root, const std::string& name, const std::string& config,
                              const std::string& split);

}  // namespace bert
