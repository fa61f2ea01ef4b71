// See run_history.h.
#include "engine/run_history.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/file_io.h"
#include "engine/batch_stream.h"
#include "engine/checkpoint_checksums.h"
#include "engine/training_run.h"

namespace bert {

std::string metrics_log_through(const std::string& path, int64_t step) {
  if (!path_exists(path)) return "";
  std::string kept;
  for (const std::string& line : read_lines(path)) {
    long long line_step = 0;
    const bool stepped = std::sscanf(line.c_str(), "{\"step\": %lld", &line_step) == 1;
    if (stepped && line_step > step) continue;
    // The run's summary (write_train_results) comes after the last checkpoint, and the final
    // evaluation after it: a run resumed at its last step (redoing its end) writes both again.
    if (stepped && line_step == step && line.find("\"train_loss\": ") != std::string::npos) break;
    kept += line + "\n";
  }
  return kept;
}

void truncate_metrics_log(const std::string& path, int64_t step) {
  if (!path_exists(path)) return;
  write_file_atomic(path, metrics_log_through(path, step));
}

HfTrainerState hf_trainer_state_of(const TrainerState& state, const TrainConfig& tc,
                                   int64_t steps_per_epoch, int64_t last_save_step,
                                   const std::string& output_dir) {
  HfTrainerState hf;
  hf.global_step = state.global_step;
  hf.max_steps = state.total_steps;
  hf.epoch = state.epoch;
  hf.num_train_epochs = (state.total_steps + steps_per_epoch - 1) / steps_per_epoch;
  hf.logging_steps = interval_steps(tc.logging_steps, state.total_steps);
  hf.eval_steps = interval_steps(tc.eval_steps, state.total_steps);
  hf.save_steps = interval_steps(tc.save_steps, state.total_steps);
  hf.train_batch_size = tc.batch_size;
  hf.total_flos = state.total_flos;
  hf.num_input_tokens_seen = state.num_input_tokens_seen;
  // Trainer's control as its last checkpoint recorded it: saving, and stopping when that was the
  // last step.
  hf.control_should_save = last_save_step > 0;
  hf.control_should_training_stop = last_save_step > 0 && last_save_step == state.global_step &&
                                    state.global_step == state.total_steps;
  hf.best_metric = state.best_metric;
  hf.best_global_step = state.best_global_step;
  const std::string best_dir = join_path(output_dir, checkpoint_dir_name(state.best_global_step));
  if (state.best_global_step > 0 &&
      (state.best_global_step == last_save_step || path_exists(best_dir)))
    hf.best_model_checkpoint = best_dir;
  return hf;
}

void write_trainer_state(const std::string& output_dir, const TrainConfig& tc,
                         const TrainingEnd& end, size_t windows, int world_size) {
  const int64_t per_epoch = steps_per_epoch(
      windows, tc.batch_size, world_size, tc.gradient_accumulation_steps, tc.dataloader_drop_last);
  HfTrainerState hf = hf_trainer_state_of(end.state, tc, per_epoch, end.last_save_step, output_dir);
  // The run's end: the best checkpoint only when it is still there.
  if (!path_exists(hf.best_model_checkpoint)) hf.best_model_checkpoint.clear();
  write_file_atomic(join_path(output_dir, kTrainerStateFile),
                    hf_trainer_state_json(hf, join_path(output_dir, kMetricsLogFile)));
}

void add_checkpoint_history(CheckpointContents* contents, const std::string& output_dir,
                            const TrainConfig& tc, int64_t steps_per_epoch) {
  const TrainerState& state = contents->state;
  const std::string log = join_path(output_dir, kMetricsLogFile);
  contents->metrics_log = metrics_log_through(log, state.global_step);
  const HfTrainerState hf =
      hf_trainer_state_of(state, tc, steps_per_epoch, state.global_step, output_dir);
  contents->hf_trainer_state =
      hf_trainer_state_json(hf, parse_metrics_log(contents->metrics_log, log));
}

bool continue_history_from(const std::string& checkpoint_dir, const std::string& output_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path checkpoint = fs::path(checkpoint_dir).lexically_normal();
  if (!checkpoint.has_filename()) checkpoint = checkpoint.parent_path();  // "checkpoint-5/"
  const fs::path parent = checkpoint.parent_path();
  const std::string log = join_path(output_dir, kMetricsLogFile);
  const bool own = fs::equivalent(parent.empty() ? fs::path(".") : parent, output_dir, ec);
  if (own && path_exists(log)) return false;  // output_dir's own log, cut at the step already
  const std::string saved = join_path(checkpoint_dir, kMetricsLogFile);
  if (!path_exists(saved)) return false;
  // Another run's history replaces this directory's only for a checkpoint that will resume: every
  // file verified now (loading it later verifies again), so a damaged one changes nothing here.
  verify_checkpoint_checksums(checkpoint_dir);
  const std::string tensors = join_path(checkpoint_dir, kTrainingTensorsFile);
  if (!path_exists(tensors)) throw_input_error(tensors, "", "missing (required to resume)");
  write_file_atomic(log, read_file(saved));
  return true;
}

}  // namespace bert
