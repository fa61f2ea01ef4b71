// The fine-tuning loop: windows shuffled by seed each epoch, packed into batches of
// per_device_train_batch_size windows (the next batch is packed on a host thread while the
// current one computes), gradient accumulation, global-norm clipping, AdamW with the
// learning-rate schedule of --lr_scheduler_type and --lr_scheduler_kwargs (engine/lr_schedule.h),
// progress after every step, checkpoints and evaluations by step or at epoch ends
// (--save_strategy / --eval_strategy, Hugging Face's IntervalStrategy).
//
// One optimizer step (Trainer::train), queued on the backend without waiting for it:
//   1. accumulate_gradients: forward/backward over gradient_accumulation_steps micro-batches
//      (an epoch's last step over the epoch's leftovers, as transformers 5: micro_batches_in_step),
//      each this rank's slice of the next global batch (engine/data_parallel.h: with one
//      process, the next batch_size windows of the shuffled order); the loss is summed on the
//      backend (AdamWOptimizer::step_stats);
//   2. reduce_gradients: with several ranks, the gradient buckets' all-reduce (launched during
//      the last backward) is completed and the loss summed over ranks;
//   3. AdamW on the device, skipped there when the loss or the gradient norm is not finite
//      (every rank sees the same reduced values, so every rank decides alike).
// The step's statistics (loss, norm, applied) are read back one step late: the host queues
// step k+1 before it waits for step k's numbers, so the device never idles on the host. Steps
// that save, stop or end the run are read back at once, so a checkpoint always matches the
// counters. Skipped updates are counted; max_consecutive_nonfinite in a row stop the run with
// TrainingDiverged.
// Everything that decides the trajectory (data position, dropout micro-step counter, AdamW
// step count, skipped-update counts, the logging interval's running loss) lives in
// TrainerState, which checkpoints store (engine/training_state.h): a run resumed from a
// checkpoint produces bit-identical losses and parameters to one never interrupted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "data/windows.h"
#include "engine/bert_qa_model.h"
#include "comm/communicator.h"
#include "engine/batch_stream.h"
#include "core/error.h"
#include "engine/lr_schedule.h"
#include "engine/optimizer.h"
#include "engine/training_state.h"

namespace bert {

// transformers' --include_num_input_tokens_seen: what TrainerState::num_input_tokens_seen
// counts, over all ranks: nothing (kNo), every position of Hugging Face's input_ids, padding
// included (kAll: the tokens total_flos counts, TrainConfig::hf_padded_length), or the real
// tokens, attention_mask's sum (kNonPadding).
enum class InputTokenCount { kNo, kAll, kNonPadding };

// Hugging Face's IntervalStrategy: when to save or evaluate during training.
enum class IntervalStrategy { kNo, kSteps, kEpoch };
// "no", "steps", "epoch"; false for any other name.
bool parse_interval_strategy(const std::string& name, IntervalStrategy* out);

struct TrainConfig {
  int batch_size = 12;                 // windows per micro-batch (per device)
  int gradient_accumulation_steps = 1;
  double num_train_epochs = 2.0;
  int64_t max_steps = -1;              // > 0 overrides num_train_epochs
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;            // > 0 overrides warmup_ratio
  uint64_t seed = 42;       // dropout masks (and, in the app, initialisation)
  uint64_t data_seed = 42;  // the epochs' order (transformers' --data_seed; the app sets it to seed unless given)
  // logging_steps, save_steps and eval_steps as transformers takes them: a number of steps, or
  // below 1 that fraction of the run's steps, rounded up (interval_steps).
  double logging_steps = 500;
  // When a step's loss line is logged (transformers' logging_strategy): every logging_steps
  // (kSteps), at each epoch's end and the last step (kEpoch) or never (kNo); logging_first_step
  // logs step 1 whatever the strategy.
  IntervalStrategy logging_strategy = IntervalStrategy::kSteps;
  bool logging_first_step = false;
  double save_steps = 500;             // <= 0: no checkpoints (kSteps)
  IntervalStrategy save_strategy = IntervalStrategy::kSteps;
  // Evaluation during training (TrainHooks::on_evaluate): every eval_steps (kSteps) or after
  // each epoch (kEpoch), and either way after the last step (as transformers' DefaultFlowCallback).
  IntervalStrategy eval_strategy = IntervalStrategy::kNo;
  double eval_steps = 500;
  // transformers' eval_delay: no evaluation (kSteps, kEpoch) before this step or epoch.
  double eval_delay = 0;
  LrScheduleConfig lr_schedule;  // --lr_scheduler_type with its --lr_scheduler_kwargs
  // Consecutive steps with a non-finite loss or gradient norm that stop the run; <= 0: never.
  int64_t max_consecutive_nonfinite = 10;
  // > 0: stop after this global step as if interrupted (checkpoint, then return), while the
  // schedule still spans the whole run; for time-sliced jobs and resume tests.
  int64_t stop_after_steps = -1;
  // > 0: this optimizer step (1-based, counted over the whole run) is bracketed with
  // Backend::profile_range, for a profiler started with collection off (BERT_PROFILE_STEP).
  int64_t profile_step = 0;
  // Hugging Face's input length for total_flos (Trainer.floating_point_ops: 6 × input_ids.numel()
  // × non-embedding parameters per micro-batch): max_seq_length with --pad_to_max_length
  // (run_qa's default); 0: each device batch padded to its longest window.
  int64_t hf_padded_length = 0;
  InputTokenCount input_token_count = InputTokenCount::kNo;
  // Each epoch's order (--train_sampling_strategy; transformers 4's --group_by_length is
  // kGroupByLength: windows of similar length in the same batch).
  TrainSampling sampling = TrainSampling::kRandom;
  // transformers' --dataloader_drop_last: each epoch leaves out its short last global batch.
  bool dataloader_drop_last = false;
  // Data parallelism: gradient buckets all-reduced during backward (false: one all-reduce of
  // the whole buffer after it), of this many bytes.
  bool overlap_gradient_reduction = true;
  size_t bucket_bytes = size_t(25) << 20;
  OptimizerConfig optimizer;
};

struct TrainProgress {
  int64_t step = 0, total_steps = 0;
  double epoch = 0;
  double loss = 0;          // mean finite step loss over the logging interval (NaN if none)
  double step_loss = 0;     // this step's mean micro-batch loss
  double learning_rate = 0;
  double grad_norm = 0;
  double windows_per_second = 0;
  double eta_seconds = 0;
  int64_t skipped_updates = 0;      // steps skipped so far (non-finite loss or gradient norm)
  int64_t consecutive_skipped = 0;  // of which in a row up to this step
  bool update_skipped = false;      // this step's update was skipped
  bool logging_step = false;        // a logging step (TrainConfig::logging_strategy): log a line
  // With TrainConfig::input_token_count: the run's count through this step (-1: not counted),
  // and this train() call's tokens per second over its seconds so far (transformers'
  // train_tokens_per_second and train_runtime on each loss line).
  int64_t num_input_tokens_seen = -1;
  double seconds_since_start = 0, input_tokens_per_second = 0;
};

enum class TrainOutcome {
  kCompleted,       // reached total steps
  kStopAfterSteps,  // TrainConfig::stop_after_steps reached (checkpoint saved)
  kStopRequested,   // the stop hook (a signal) asked to stop (checkpoint saved)
};

struct TrainSummary {
  TrainOutcome outcome = TrainOutcome::kCompleted;
  int64_t first_step = 0;      // global step this run started from (> 0 when resumed)
  int64_t steps = 0;           // global step reached
  int64_t total_steps = 0;
  double final_loss = 0;       // mean loss over the last logging interval
  // Mean finite step loss over the whole run, resumed parts included (Hugging Face's
  // train_loss); NaN when no step had a finite loss.
  double mean_loss = 0;
  int64_t mean_loss_first_step = 0;  // > 0: mean_loss covers only the steps after it (resumed
                                     // from a version 1 checkpoint, which has no loss total)
  double seconds = 0;
  double windows_per_second = 0;
  int64_t skipped_updates = 0;
  std::vector<double> step_losses;  // mean micro-batch loss of every step of this run
};

// Thrown when max_consecutive_nonfinite steps in a row had a non-finite loss or gradient
// norm, or when a parameter holds a NaN or an infinity at a checkpoint or at the end; nothing
// is saved (the last checkpoint stays the place to resume from).
class TrainingDiverged : public BertError {
 public:
  using BertError::BertError;
};

// Optimizer steps of this configuration on world_size ranks (engine/batch_stream.h's count), and
// the warmup steps as Hugging Face's Trainer derives them.
inline int64_t total_train_steps(const TrainConfig& config, size_t num_windows, int world_size = 1) {
  return total_train_steps(num_windows, config.batch_size, world_size, config.gradient_accumulation_steps,
                           config.num_train_epochs, config.max_steps, config.dataloader_drop_last);
}
int64_t warmup_steps_for(const TrainConfig& config, int64_t total_steps);
// A state's num_input_tokens_seen as Trainer.log adds it to every logged dict and the results
// files when the config counts input tokens; -1 (left out) when it counts none.
inline int64_t logged_input_tokens(const TrainConfig& config, const TrainerState& state) {
  return config.input_token_count != InputTokenCount::kNo ? state.num_input_tokens_seen : -1;
}

// A fresh run's state for these windows (counters zero, configuration filled in) with
// world_size ranks of config.batch_size windows each: the state records the global batch, so
// a checkpoint resumes under any world size with the same global batch.
TrainerState initial_trainer_state(const TrainConfig& config, const std::vector<Window>& windows,
                                   int world_size = 1);

// A logging_steps / save_steps / eval_steps value in steps for a run of total_steps, as
// transformers' TrainerState.compute_steps: ceil(total_steps × given) for a given value below 1,
// else the value (<= 0 stays <= 0: never, for save_steps).
int64_t interval_steps(double given, int64_t total_steps);

struct TrainHooks {
  // After every optimizer step; loss and windows/s cover the steps since the last logging step.
  std::function<void(const TrainProgress&)> on_step;
  // At every save_steps boundary (kSteps) or epoch end (kEpoch), after the last step (with either
  // strategy, as transformers' DefaultFlowCallback), and before stopping early; the state is
  // that after the step (model and optimizer hold the matching tensors).
  std::function<void(const TrainerState&)> on_checkpoint;
  // Before stopping early (--stop_after_steps, a signal), instead of on_checkpoint when set: the
  // checkpoint the run continues from (a --save_only_model run still saves its training state
  // there).
  std::function<void(const TrainerState&)> on_resume_checkpoint;
  // Polled after every step; true stops the run (with a checkpoint) unless it is complete.
  std::function<bool()> stop_requested;
  // At every evaluation point of config.eval_strategy, once the step is complete: the model
  // holds the weights after it. The hook may run inference (forward without dropout) on the
  // model; the next step's forward_train starts from the same weights and counters.
  std::function<void(const TrainerState&)> on_evaluate;
  // reduce_lr_on_plateau: after on_evaluate, the metric that steps the schedule (rank 0's hook;
  // the other ranks receive its value).
  std::function<double()> evaluation_metric;
};

class Trainer {
 public:
  // comm: the ranks of a data-parallel run (null: one process). config.batch_size is the
  // per-device batch.
  Trainer(BertQaModel& model, AdamWOptimizer& optimizer, const TrainConfig& config, Communicator* comm = nullptr);
  ~Trainer();

  // Continue from a checkpoint's state; load_checkpoint has restored the model and optimizer.
  // train() refuses it (InputError naming `source` and the field) when its data or settings
  // differ from this run's.
  void resume(const TrainerState& state, const std::string& source);

  TrainSummary train(const std::vector<Window>& windows, const TrainHooks& hooks);

  // The run's counters now. The AdamW update count is the optimizer's (kept with its step
  // statistics, where the update reads it); the state carries a copy taken here, for the
  // checkpoint and the hooks, instead of a second counter advanced beside it.
  TrainerState state() const;

 private:
  struct StepClock;
  struct QueuedStep;
  // What is due once global step `done` (1-based) is complete: a checkpoint, an evaluation,
  // the stop of --stop_after_steps.
  struct StepPoints {
    bool save = false, evaluate = false, stop = false;
  };
  // A fresh run's state, or checks that the resumed one (or the earlier train() call's) fits `windows`.
  void start_or_continue(const std::vector<Window>& windows);
  StepPoints points_after(int64_t done) const;
  // The summary's counters and rates once the loop has ended.
  void close_summary(const StepClock& clock, TrainSummary* summary) const;
  // Queues one optimizer step (steps 1-3 above); advances the data position and micro-step.
  QueuedStep queue_step(PrefetchedBatchStream& batches, int64_t steps_before);
  // Forward and backward of the step's micro-batches; the global windows and counted input
  // tokens (TrainConfig::input_token_count) into *queued.
  void accumulate_gradients(PrefetchedBatchStream& batches, int64_t steps_before,
                            QueuedStep* queued);
  void reduce_gradients();
  // Reads a queued step's statistics back (waits for it) and does its bookkeeping.
  TrainProgress finish_step(const QueuedStep& step, TrainSummary* summary, StepClock* clock);
  // Throws TrainingDiverged when a parameter holds a NaN or an infinity, or when the last
  // step's loss was not finite (its update was skipped, so the parameters at hand are the ones
  // that gave it): before a checkpoint and at the end, so that such a model is never saved.
  // Every rank checks its replica (they are identical), so every rank stops alike.
  void check_parameters_finite(double last_step_loss) const;
  // Advances the counters in state_ after an update (applied or skipped).
  void record_step(double step_loss, const UpdateStats& stats);
  // Global micro-batches per epoch of this run (engine/batch_stream.h's count).
  size_t batches_per_epoch() const;
  // Optimizer steps per epoch of this run (engine/batch_stream.h's steps_per_epoch).
  int64_t steps_in_epoch() const;
  // reduce_lr_on_plateau's step after an evaluation (hooks.evaluation_metric).
  void step_plateau(const TrainHooks& hooks);
  // The fractional epoch after global step `step` (TrainerState::epoch).
  double epoch_at(int64_t step) const;
  // Whether global step `step` (1-based) is an epoch's last.
  bool epoch_ends_at(int64_t step) const;
  // The progress after the step; resets the logging interval at a logging step.
  TrainProgress report_step(double step_loss, const UpdateStats& stats, int64_t first_step, StepClock* clock);

  BertQaModel& model_;
  AdamWOptimizer& optimizer_;
  TrainConfig config_;
  Communicator* comm_;
  double non_embedding_parameters_;  // Trainer.floating_point_ops' count, for total_flos
  int world_size_ = 1, rank_ = 0;
  std::unique_ptr<class GradientReducer> reducer_;
  TrainerState state_;
  bool resumed_ = false;
  std::string resume_source_;
  int64_t mean_loss_first_step_ = 0;
};

}  // namespace bert
