#include "apps/model_location.h"

#include <filesystem>

#include "apps/flags.h"
#include "core/error.h"
#include "core/file_io.h"
#include "io/checkpoint_tensors.h"
#include "io/hub_cache.h"

namespace bert {

std::string resolve_model_location(const std::string& model_name_or_path, const std::string& revision,
                                   const std::string& cache_dir, std::vector<std::string>* notes) {
  if (path_exists(model_name_or_path)) {
    if (revision != "main")
      throw FlagError("--model_revision " + revision + ": --model_name_or_path " + model_name_or_path +
                      " is a local directory, which has no revisions; check that revision out into a directory "
                      "(git clone, then git checkout " + revision + ") and give it as --model_name_or_path");
    if (!cache_dir.empty())
      notes->push_back("--cache_dir " + cache_dir + " is not searched: --model_name_or_path " + model_name_or_path +
                       " is a local directory");
    return model_name_or_path;
  }
  if (!looks_like_hub_id(model_name_or_path)) return model_name_or_path;
  const std::string root = hub_cache_root(cache_dir);
  std::string searched;
  const std::string snapshot = find_hub_snapshot(root, model_name_or_path, revision, &searched);
  if (snapshot.empty()) {
    // A name of this shape is as likely a relative path typed before the directory exists
    // ("inputs/bert-base-uncased"): the message says where it looked for both.
    std::error_code error;
    const std::string cwd = std::filesystem::current_path(error).string();
    throw_input_error(
        model_name_or_path, "",
        "not a local directory (no such path under " + cwd +
            "), and the Hugging Face cache has no snapshot of it at revision " + revision +
            " (looked for " + searched +
            "). A local model: check the path (README: Getting bert-base-uncased and SQuAD "
            "v1.1). A Hub id: nothing is downloaded here, fetch it first with " +
            hub_download_hint(model_name_or_path));
  }
  if (find_checkpoint(snapshot).empty())
    throw_input_error(snapshot, "", "the cached snapshot of " + model_name_or_path +
                                        " holds no weights (model.safetensors, pytorch_model.bin or their index): "
                                        "download them, e.g. with " + hub_download_hint(model_name_or_path));
  notes->push_back("--model_name_or_path " + model_name_or_path + ": the Hugging Face cache's snapshot " + snapshot +
                   " (revision " + revision + ")");
  return snapshot;
}

std::string untrained_model_warning(const std::string& model_dir, int64_t seed, bool training) {
  return "warning: " + model_dir +
         " has no weights (config.json and a vocabulary only): every parameter is randomly "
         "initialised (seed " +
         std::to_string(seed) + "), " +
         (training ? "so this trains from scratch, not from a pretrained checkpoint (put its "
                     "model.safetensors there to fine-tune it)"
                   : "so these scores are an untrained model's");
}

}  // namespace bert
