#include "apps/dataset_location.h"

#include "apps/flags.h"
#include "core/error.h"
#include "data/hf_datasets_cache.h"

namespace bert {

void resolve_dataset_name(const std::string& name, const std::string& config, const std::string& cache_dir,
                          const std::vector<DatasetSplitFiles>& splits, std::vector<std::string>* notes) {
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
