#include "apps/dataset_location.h"

#include "apps/flags.h"
#include "core/error.h"
#include "data/hf_datasets_cache.h"

namespace bert {

void register_dataset_flags(FlagParser* parser, DatasetFlags* flags, const std::string& replaces) {
  parser->add_string("dataset_name", &flags->name,
                     "a Hub dataset as run_qa.py takes it (e.g. rajpurkar/squad), read from the Hugging Face "
                     "datasets cache that an earlier load_dataset filled (--cache_dir, $HF_DATASETS_CACHE, "
                     "$HF_HOME/datasets, ~/.cache/huggingface/datasets): " + replaces + "; nothing is downloaded");
  parser->add_string("dataset_config_name", &flags->config,
                     "with --dataset_name: the configuration (e.g. plain_text); needed when several are cached");
}

void resolve_dataset_name(const DatasetFlags& dataset, const std::string& cache_dir,
                          const std::vector<DatasetSplitFiles>& splits, std::vector<std::string>* notes) {
  const std::string& name = dataset.name;
  const std::string& config = dataset.config;
  if (name.empty()) {
    if (!config.empty())
      throw FlagError("--dataset_config_name " + config + " names a configuration of --dataset_name, which is not given");
    return;
  }
  const std::string root = datasets_cache_root(cache_dir);
  for (const DatasetSplitFiles& s : splits) {
    if (!s.needed) continue;
    CachedSplit cached;
    try {
      cached = find_cached_split(root, name, config, s.split);
    } catch (const InputError& e) {
      throw FlagError(e.what());  // the flag's value: exit 2, before any work
    }
    if (!s.file->empty())
      notes->push_back(std::string("--") + s.flag + " " + *s.file + " is not used: --dataset_name gives the " +
                       s.split + " split, as in run_qa.py");
    *s.file = cached.files.front();
    notes->insert(notes->end(), cached.notes.begin(), cached.notes.end());
  }
}

}  // namespace bert
