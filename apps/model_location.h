// Where --model_name_or_path's files are, as from_pretrained finds them without a network: a
// local directory, else a Hub id's snapshot in the Hugging Face cache (io/hub_cache.h) at
// --model_revision. Nothing is downloaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bert {

// The directory to read. A local directory is itself (FlagError for a --model_revision other
// than main: a directory has no revisions); a Hub id found in the cache is its snapshot, which
// must hold weights (a snapshot of config files only would otherwise train from random
// weights); a Hub id not found is an InputError with the download command; anything else is
// returned unchanged for the model loader to report. A note for the log says what was chosen.
std::string resolve_model_location(const std::string& model_name_or_path, const std::string& revision,
                                   const std::string& cache_dir, std::vector<std::string>* notes);

// The warning line (no newline) for a model directory without weights, whose parameters were
// randomly initialised with `seed`: a training from scratch, or an untrained model's scores.
std::string untrained_model_warning(const std::string& model_dir, int64_t seed, bool training);

}  // namespace bert
