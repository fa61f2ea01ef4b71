// Checkpoints that carry the full training state, so that a resumed run continues
// bit-identically: same data order, same dropout masks, same updates, same losses.
//
// output_dir/checkpoint-STEP/ holds
//   config.json, model.safetensors, vocab.txt, tokenizer_config.json
//       the model directory as save_model_dir writes it (loadable by transformers);
//   training_state.safetensors
//       "master/<name>", "exp_avg/<name>", "exp_avg_sq/<name>" for every parameter of the
//       ParamLayout, F32 with the parameter's shape: the optimizer's master weights (on the
//       float CPU backend they are the model weights; on the GPU the bf16 working copy is
//       re-derived from them) and both AdamW moments, bit-exact;
//   training_state.json
//       the counters (TrainerState below): global step, AdamW's step count, the position in
//       the data order (epoch, index in that epoch's shuffled order), the dropout micro-step
//       counter, skipped-update counts, the logging interval's running loss, and what the
//       run was configured with (seed, batch, schedule, data fingerprint) so that resuming
//       with other data or settings is refused instead of silently changing the trajectory
//       (checkpoints written before 2026-12-07 hold it as trainer_state.json: still read);
//   trainer_state.json, trainer_log.jsonl
//       Hugging Face's TrainerState as its Trainer writes it into a checkpoint (log_history up
//       to this step, best_model_checkpoint, ...; also in model-only checkpoints), and the
//       metrics log's lines up to this step, from which a run resumed into another
//       output_dir continues its history.
//
// A checkpoint is written into checkpoint-STEP.tmp-<pid>/ (every file synced; by train_squad on a
// writer thread beside training, engine/checkpoint_writer.h) and renamed to its final name only
// when complete, so a crash or a second signal never leaves a half-written checkpoint under the
// final name; leftovers of dead processes are removed by remove_stale_temporaries. Older
// checkpoints are deleted (save_total_limit) only after the new one is in place.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "data/windows.h"
#include "engine/batch_stream.h"
#include "engine/bert_qa_model.h"
#include "engine/lr_schedule.h"
#include "engine/optimizer.h"

namespace bert {

inline constexpr const char* kTrainerStateFile = "trainer_state.json";  // Hugging Face's format
inline constexpr const char* kEngineStateFile = "training_state.json";  // TrainerState below
// The metrics log (one JSON object per line), in output_dir and, up to its step, in a checkpoint.
inline constexpr const char* kMetricsLogFile = "trainer_log.jsonl";
inline constexpr const char* kTrainingTensorsFile = "training_state.safetensors";
inline constexpr const char* kChecksumsFile = "checksums.json";
// Version 2 added lr_scheduler_type and the run's loss total; version 1 files still read (their
// schedule was always linear, and their loss total is unknown: total_loss_steps = -1).
inline constexpr int kTrainerStateVersion = 2;

struct TrainerState {
  // ---- progress ----
  int64_t global_step = 0;      // optimizer steps taken, skipped ones included
  int64_t optimizer_steps = 0;  // updates applied (AdamW's bias-correction step count)
  DataPosition data;            // after the last micro-batch consumed
  uint32_t micro_step = 0;      // training forward passes so far (the dropout counter)
  int64_t skipped_updates = 0;  // steps skipped for a non-finite loss or gradient norm
  int64_t consecutive_nonfinite = 0;
  double interval_loss = 0;     // Σ finite step losses since the last logging step
  int64_t interval_steps = 0;   // steps in interval_loss
  double epoch = 0;             // fractional epoch (informational, as Hugging Face logs it)
  double total_loss = 0;        // Σ finite step losses of the whole run (for the mean train_loss)
  int64_t total_loss_steps = 0; // steps in total_loss; -1: unknown (a version 1 checkpoint)
  // Hugging Face's total_flos over the whole run (TrainConfig::hf_padded_length); absent in
  // older checkpoints: counted from the resumed step on.
  double total_flos = 0;
  // The best evaluation so far by --metric_for_best_model (absent in older checkpoints: none):
  // its value (NaN: none) and the step of its checkpoint (0: none recorded).
  double best_metric = std::numeric_limits<double>::quiet_NaN();
  int64_t best_global_step = 0;
  // transformers' num_input_tokens_seen (TrainConfig::input_token_count); absent in older
  // checkpoints: 0.
  int64_t num_input_tokens_seen = 0;
  // reduce_lr_on_plateau's state after the evaluations so far (absent in older checkpoints,
  // which could not use it: the defaults).
  PlateauState plateau;
  // ---- what the run was configured with; resuming with other values is refused ----
  uint64_t seed = 0;
  uint64_t data_seed = 0;  // the epochs' order (absent in older checkpoints: seed)
  bool dataloader_drop_last = false;  // each epoch leaves out its short last batch (absent: false)
  int64_t total_steps = 0, warmup_steps = 0;
  double learning_rate = 0;
  // AdamW's settings (--adam_beta1, --adam_beta2, --adam_epsilon, --weight_decay): transformers
  // restores them from a checkpoint whatever the flags say, so a different value is refused
  // rather than trained with. NaN: not recorded (checkpoints before 2026-12-07), not checked.
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8, weight_decay = 0;
  std::string lr_scheduler_type = "linear";
  // --lr_scheduler_kwargs as LrScheduleConfig::kwargs_json spells them (absent in older
  // checkpoints: "{}", the only value they could have had).
  std::string lr_scheduler_kwargs = "{}";
  int32_t batch_size = 0, gradient_accumulation_steps = 0;
  uint64_t num_windows = 0;
  uint64_t data_fingerprint = 0;  // windows_fingerprint of the training windows
  // The epochs' order (train_sampling_name); older checkpoints hold group_by_length true/false.
  std::string train_sampling_strategy = "random";
};

// training_state.json text (2-space indent; doubles as format_json_number writes them, shortest
// round-trip digits, so they read back bit-identically; the fingerprint as 16 hex digits).
std::string trainer_state_to_json(const TrainerState& state);
// Parses and validates it; InputError naming `file` and the field on any problem.
TrainerState parse_trainer_state(const std::string& json, const std::string& file);

// Throws InputError naming `source` (the checkpoint) and the first field whose value differs
// between the checkpoint and this run (seed, batch, schedule, data).
void check_resume_compatible(const TrainerState& checkpoint, const TrainerState& run, const std::string& source);
// After that check: the settings an older checkpoint did not record (NaN) take this run's
// values, so that the checkpoints written from here on hold them.
void record_unrecorded_settings(TrainerState* checkpoint, const TrainerState& run);

// 64-bit FNV-1a over every window's ids, token types, labels and example index: any change
// of data, vocabulary, lower-casing or window settings changes it.
uint64_t windows_fingerprint(const std::vector<Window>& windows);

// The first parameter (in layout order) whose master weights hold a NaN or an infinity, and
// how many of its values are not finite; an empty name when every value is finite. Downloads
// one tensor at a time.
struct NonFiniteParameter {
  std::string name;
  size_t count = 0;
};
NonFiniteParameter find_nonfinite_parameter(BertQaModel& model);

// Throws BertError unless the backend keeps master weights and Adam moments in fp32 (the
// cpu-double oracle keeps them in double, which this format does not store).
void check_checkpointable(Backend& backend);

// The master weights and both moments copied to the host (fp32, bit-exact): the model's flat
// buffers whole (one device readback each) and the layout's slots into them. What a checkpoint
// writer needs once the training thread has moved on.
struct TrainingTensors {
  std::vector<ParamSlot> slots;  // names, shapes and offsets into each buffer
  std::vector<float> master;     // the master weights (the model files' values too)
  std::vector<float> exp_avg;    // empty when captured without the moments
  std::vector<float> exp_avg_sq;
  // {parameter name: values} of the master weights, as save_model_dir takes them.
  std::map<std::string, std::vector<float>> master_by_name() const;
};
// with_moments false: the master weights alone (a --save_only_model checkpoint's model files).
TrainingTensors capture_training_tensors(BertQaModel& model, AdamWOptimizer& optimizer,
                                         bool with_moments = true);
// The same into *out, reusing its vectors' memory (already paged in by an earlier capture).
void capture_training_tensors(BertQaModel& model, AdamWOptimizer& optimizer, bool with_moments,
                              TrainingTensors* out);

// training_state.safetensors: writes / restores the master weights and both moments, then
// refreshes the working copy. read validates names, dtypes and shapes against the layout.
void write_training_tensors(const std::string& path, const TrainingTensors& tensors);
void write_training_tensors(const std::string& path, BertQaModel& model, AdamWOptimizer& optimizer);
void read_training_tensors(const std::string& path, BertQaModel& model, AdamWOptimizer& optimizer);

// Reads <dir>/training_state.json and <dir>/training_state.safetensors into the model and the
// optimizer (master weights, moments, AdamW step count), after verifying every file of the
// checkpoint against checksums.json. Throws InputError naming the file.
TrainerState load_checkpoint(const std::string& dir, BertQaModel& model, AdamWOptimizer& optimizer);
// Only the trainer state, its checksum verified (cheap; to fail fast before the data is prepared).
TrainerState read_trainer_state(const std::string& checkpoint_dir);
// Whether a checkpoint directory was written with training state, whether or not its
// training_state.json is still there: it holds training_state.safetensors, or its checksums.json
// lists it or training_state.json. One that lacks the state then is damaged, not model-only.
bool checkpoint_written_with_state(const std::string& checkpoint_dir);
// The file holding a checkpoint's TrainerState: training_state.json, or trainer_state.json in
// this engine's format (a checkpoint written before 2026-12-07, also when its checksums.json says
// it was written with that file and it is now missing or damaged, so errors name it); "" when
// it has neither.
std::string engine_state_file(const std::string& checkpoint_dir);

}  // namespace bert
