// A run's history as Hugging Face's Trainer keeps it: the metrics log (trainer_log.jsonl, one
// logged dict per line) and trainer_state.json (TrainerState with log_history), in output_dir
// and, up to its step, in every checkpoint, so that a run resumed anywhere (its own output_dir,
// or another one the checkpoint was copied or pointed to from) continues one history.
#pragma once

#include <cstdint>
#include <string>

#include "engine/checkpoint_dirs.h"
#include "engine/hf_outputs.h"
#include "engine/trainer.h"
#include "engine/training_state.h"

namespace bert {

struct TrainingEnd;

// The metrics log's lines logged up to `step`, less the run's summary at `step` and what
// follows it (the end of a run redone from its last checkpoint): the text of a log that reads as
// one uninterrupted run to that step. A missing file gives "".
std::string metrics_log_through(const std::string& path, int64_t step);
// Rewrites the log at `path` as metrics_log_through(path, step) (a run resumed from `step`, or
// any earlier run's log when training starts afresh at step 0).
void truncate_metrics_log(const std::string& path, int64_t step);

// Hugging Face's TrainerState for `state`, saved last at last_save_step (0: never), in
// output_dir: the counters, Trainer's control and the best checkpoint (when it is there, or is
// the one being saved at last_save_step).
HfTrainerState hf_trainer_state_of(const TrainerState& state, const TrainConfig& tc,
                                   int64_t steps_per_epoch, int64_t last_save_step,
                                   const std::string& output_dir);

// Trainer.save_state(): output_dir/trainer_state.json with the run's counters and the log
// history so far (from trainer_log.jsonl); called before the final evaluation, as run_qa does.
void write_trainer_state(const std::string& output_dir, const TrainConfig& tc,
                         const TrainingEnd& end, size_t windows, int world_size);

// A checkpoint's history, as Trainer saves it into checkpoint-N: contents->metrics_log (the log
// through N) and contents->hf_trainer_state (trainer_state.json with that log_history). Read on
// the training thread, before the log grows past N.
void add_checkpoint_history(CheckpointContents* contents, const std::string& output_dir,
                            const TrainConfig& tc, int64_t steps_per_epoch);

// Resuming from a checkpoint outside output_dir (copied, or another run's), or from one in
// output_dir when its log is gone: output_dir's log starts as the checkpoint's trainer_log.jsonl,
// so the history before the checkpoint carries on. Otherwise (output_dir's own log, already cut
// at the step), or for a checkpoint without the file (written before 2026-12-07), nothing
// changes. Returns whether the log was taken from the checkpoint.
bool continue_history_from(const std::string& checkpoint_dir, const std::string& output_dir);

}  // namespace bert
