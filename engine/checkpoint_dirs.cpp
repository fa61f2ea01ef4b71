// Checkpoint directories: written under a temporary name, synced, renamed into place; listed,
// rotated, and leftovers of dead processes removed.
#include "engine/checkpoint_dirs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/file_io.h"
#include "core/temporaries.h"
#include "engine/checkpoint_checksums.h"
#include "io/model_dir.h"  // is_saved_model_file_name

namespace bert {
namespace {

namespace fs = std::filesystem;

// Flushes a file or directory to disk, so a power loss after the rename cannot leave a
// checkpoint whose name exists but whose data does not. Best effort on file systems that
// refuse fsync on directories.
void sync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) throw BertError(path + ": cannot open to sync: " + std::strerror(errno));
  const int status = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (status != 0 && !(directory && (saved == EINVAL || saved == EROFS)))
    throw BertError(path + ": fsync failed: " + std::strerror(saved));
}

void sync_tree(const std::string& dir) {
  for (const fs::directory_entry& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) sync_path(entry.path().string(), false);
  sync_path(dir, true);
}

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string checkpoint_dir_name(int64_t step) { return "checkpoint-" + std::to_string(step); }

bool is_checkpoint_file_name(const std::string& name) {
  static const char* const kNames[] = {kTrainerStateFile, kEngineStateFile, kTrainingTensorsFile,
                                       kChecksumsFile, kMetricsLogFile};
  const size_t at = name.find(".tmp.");
  const std::string base = at == std::string::npos ? name : name.substr(0, at);
  if (at != std::string::npos && temporary_owner(name, ".tmp.") < 0) return false;
  return is_saved_model_file_name(base) ||
         std::any_of(std::begin(kNames), std::end(kNames),
                     [&](const char* known) { return base == known; });
}

namespace {

// The step of a directory name exactly as checkpoint_dir_name writes it ("checkpoint-12", not
// "checkpoint-0042"), or -1.
int64_t checkpoint_step_of(const std::string& name) {
  const std::string prefix = "checkpoint-";
  if (name.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = name.substr(prefix.size());
  if (!all_digits(digits) || digits.size() > 18) return -1;
  const int64_t step = std::stoll(digits);
  return checkpoint_dir_name(step) == name ? step : -1;
}

// What a checkpoint-named directory holds. Ours: only checkpoint file names (a user's notes or
// data inside make it someone else's), with the state or at least the model (complete) or,
// not empty, with neither (what a deletion cut short left: incomplete).
enum class CheckpointFiles { kForeign, kComplete, kIncomplete };

CheckpointFiles checkpoint_files_in(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_symlink(dir, ec) || !fs::is_directory(dir, ec)) return CheckpointFiles::kForeign;
  bool any = false, model_or_state = false;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) || !is_checkpoint_file_name(name)) return CheckpointFiles::kForeign;
    model_or_state = model_or_state || name == kEngineStateFile || name == kTrainerStateFile ||
                     name == "model.safetensors";
    any = true;
  }
  if (ec || !any) return CheckpointFiles::kForeign;
  return model_or_state ? CheckpointFiles::kComplete : CheckpointFiles::kIncomplete;
}

}  // namespace

std::vector<CheckpointEntry> list_checkpoints(const std::string& output_dir) {
  std::vector<CheckpointEntry> out;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return out;
  for (const fs::directory_entry& entry : fs::directory_iterator(output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    CheckpointEntry checkpoint;
    checkpoint.step = checkpoint_step_of(name);
    if (checkpoint.step < 0 || checkpoint_files_in(entry.path()) != CheckpointFiles::kComplete)
      continue;
    checkpoint.path = join_path(output_dir, name);
    // A damaged checkpoint (written with its state, now missing it) counts as one with state, so
    // that resuming it is refused naming the missing file instead of passing to an older one.
    checkpoint.has_state = checkpoint_written_with_state(checkpoint.path);
    out.push_back(checkpoint);
  }
  if (ec) throw BertError(output_dir + ": cannot list: " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const CheckpointEntry& a, const CheckpointEntry& b) { return a.step < b.step; });
  return out;
}

std::string find_latest_checkpoint(const std::string& output_dir) {
  const std::vector<CheckpointEntry> checkpoints = list_checkpoints(output_dir);
  for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it)
    if (it->has_state) return it->path;
  return "";
}

std::string save_checkpoint(const std::string& output_dir, const TrainerState& state, BertQaModel& model,
                            AdamWOptimizer& optimizer, const WriteModelFn& write_model, int64_t save_total_limit,
                            bool model_only) {
  CheckpointContents contents;
  contents.state = state;
  contents.write_model = write_model;
  if (!model_only)
    contents.tensors =
        std::make_shared<TrainingTensors>(capture_training_tensors(model, optimizer));
  contents.model_only = model_only;
  return write_checkpoint(output_dir, contents, save_total_limit);
}

std::string write_checkpoint(const std::string& output_dir, const CheckpointContents& contents,
                             int64_t save_total_limit) {
  const TrainerState& state = contents.state;
  const std::string final_dir = join_path(output_dir, checkpoint_dir_name(state.global_step));
  const std::string pid = std::to_string(::getpid());
  const std::string tmp_dir = final_dir + ".tmp-" + pid;
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  try {
    make_directories(tmp_dir);
    if (contents.write_model) contents.write_model(tmp_dir);
    if (!contents.metrics_log.empty())
      write_file_atomic(join_path(tmp_dir, kMetricsLogFile), contents.metrics_log);
    if (!contents.hf_trainer_state.empty())
      write_file_atomic(join_path(tmp_dir, kTrainerStateFile), contents.hf_trainer_state);
    if (!contents.model_only) {
      BERT_CHECK(contents.tensors != nullptr, "write_checkpoint: no training tensors captured");
      write_training_tensors(join_path(tmp_dir, kTrainingTensorsFile), *contents.tensors);
      // Next to last (checksums.json follows), so that even a directory copied by hand mid-save
      // lacks the file that marks a checkpoint with training state.
      write_file_atomic(join_path(tmp_dir, kEngineStateFile), trainer_state_to_json(state));
    }
    write_checkpoint_checksums(tmp_dir);  // over every file above, verified on resume
    sync_tree(tmp_dir);
    if (path_exists(final_dir)) {
      // rename(2) cannot replace a non-empty directory: move the old one to a temporary name
      // (removed below, or as a stale temporary if we die first), then put the new one in place.
      const std::string old_dir = final_dir + ".old.tmp-" + pid;
      fs::remove_all(old_dir, ec);
      if (std::rename(final_dir.c_str(), old_dir.c_str()) != 0)
        throw BertError(final_dir + ": cannot move the existing checkpoint aside: " + std::strerror(errno));
      if (std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0)
        throw BertError(final_dir + ": cannot rename the new checkpoint into place: " + std::strerror(errno));
      fs::remove_all(old_dir, ec);
    } else if (std::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
      throw BertError(final_dir + ": cannot rename the new checkpoint into place: " + std::strerror(errno));
    }
    sync_path(output_dir, true);
  } catch (...) {
    fs::remove_all(tmp_dir, ec);
    throw;
  }
  rotate_checkpoints(output_dir, save_total_limit, {state.global_step, state.best_global_step});
  return final_dir;
}

void rotate_checkpoints(const std::string& output_dir, int64_t keep, const std::vector<int64_t>& protect_steps) {
  if (keep <= 0) return;
  const std::vector<CheckpointEntry> checkpoints = list_checkpoints(output_dir);
  int64_t remaining = static_cast<int64_t>(checkpoints.size());
  for (const CheckpointEntry& checkpoint : checkpoints) {
    if (remaining <= keep) break;
    if (std::find(protect_steps.begin(), protect_steps.end(), checkpoint.step) != protect_steps.end()) continue;
    // Out of the way in one rename first: the files go one by one, and a crash between them
    // must not leave a checkpoint-N that lacks some (it would block every resume here).
    const std::string doomed = checkpoint.path + ".old.tmp-" + std::to_string(::getpid());
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (std::rename(checkpoint.path.c_str(), doomed.c_str()) != 0)
      throw BertError(checkpoint.path +
                      ": cannot delete (save_total_limit): " + std::strerror(errno));
    fs::remove_all(doomed, ec);
    if (ec) throw BertError(doomed + ": cannot delete (save_total_limit): " + ec.message());
    --remaining;
  }
}

bool is_incomplete_checkpoint(const std::string& output_dir, const std::string& name) {
  return checkpoint_step_of(name) >= 0 &&
         checkpoint_files_in(fs::path(output_dir) / name) == CheckpointFiles::kIncomplete;
}

int remove_stale_temporaries(const std::string& output_dir) {
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return 0;
  std::vector<fs::path> stale;
  const long self = static_cast<long>(::getpid());
  for (const fs::directory_entry& entry : fs::directory_iterator(output_dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool directory = entry.is_directory(ec);
    const long owner = directory ? temporary_owner(name, ".tmp-") : temporary_owner(name, ".tmp.");
    // Temporary directories (checkpoint-N.tmp-<pid>, checkpoint-N.old.tmp-<pid>) are written only
    // by the holder of output_dir's lock, which the caller is: whatever their pid (a live
    // process may have taken a dead one's), they are an earlier run's. A temporary file may be
    // another program's (eval_squad writing here): stale when its process is gone or is this
    // one, which has written nothing here yet.
    if ((owner > 0 && (directory || owner == self || !process_alive(owner))) ||
        is_incomplete_checkpoint(output_dir, name))
      stale.push_back(entry.path());
  }
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) throw BertError(path.string() + ": cannot remove a stale temporary: " + ec.message());
  }
  return static_cast<int>(stale.size());
}

}  // namespace bert
