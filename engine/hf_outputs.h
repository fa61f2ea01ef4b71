// The files Hugging Face's Trainer and run_qa.py leave in output_dir, with their names, keys and
// layout, so tools written for them read ours:
//   <split>_results.json  Trainer.save_metrics(split, metrics):
//                         json.dumps(indent=4, sort_keys=True) of a flat dict ("train": epoch,
//                         train_loss (the mean over the run), train_runtime, train_samples,
//                         train_samples_per_second, train_steps_per_second; "eval": epoch,
//                         eval_exact_match, eval_f1 (SQuAD v2.0: eval_exact, eval_f1, eval_total,
//                         eval_HasAns_*, ...), eval_runtime, eval_samples (windows, as run_qa
//                         counts features), eval_samples_per_second, eval_steps_per_second);
//   all_results.json      the same dicts merged into what the file already holds (save_metrics'
//                         combined=True);
//   trainer_state.json    Trainer.save_state(): json.dumps(indent=2, sort_keys=True) of the run's
//                         counters and its log_history (every logged dict with its "step"),
//                         built from output_dir/trainer_log.jsonl; written before the final
//                         evaluation, as run_qa saves it, so that evaluation is not in it.
// Numbers are written as Python's json writes them (repr of floats, plain integers).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/file_io.h"  // StagedFiles
#include "engine/evaluator.h"
#include "engine/trainer.h"
#include "logging/metrics_log.h"  // MetricValue

namespace bert {

// A metrics dict: key -> JSON token, sorted by key as sort_keys=True writes it.
using MetricsDict = std::map<std::string, std::string>;
std::string metric_float(double value);   // Python's repr(float); null when not finite (not JSON otherwise)
std::string metric_int(int64_t value);
// Trainer's speed_metrics rounding: runtimes to 4 decimals, rates (per second) to 3.
double round_runtime(double seconds);
double round_rate(double per_second);

// json.dumps(metrics, indent=4, sort_keys=True) + "\n".
std::string metrics_dict_json(const MetricsDict& metrics);
// Writes output_dir/<split>_results.json and merges the dict into output_dir/all_results.json
// (an unreadable all_results.json is replaced, with a note on stderr).
// With staged, both files are staged there (StagedFiles) for the caller to commit with others.
void save_metrics(const std::string& output_dir, const std::string& split,
                  const MetricsDict& metrics, StagedFiles* staged = nullptr);

// Trainer's state.epoch as a logged value: the integer 0 until training counts epochs (the
// TrainerState default of transformers >= 5.3, which an evaluation without training, or
// --eval_on_start, logs as "epoch": 0), a float after.
MetricValue epoch_value(double epoch);

// The epoch of the training whose Trainer.save_state() output_dir holds (trainer_state.json's
// "epoch"), or -1 when it holds none (or an unreadable one): eval_squad evaluating a training's
// saved model into that training's output_dir stands in for the final evaluation the training
// skipped (evaluation_command), so it is logged at that epoch, not as a run without training.
double saved_training_epoch(const std::string& output_dir);

// run_qa's metrics of an evaluated split, `split` "eval" (--do_eval) or "predict" (--do_predict),
// with run_qa's key names: K_<score> for each of the metric's scores (when the outcome was
// scored: K_exact_match and K_f1 for v1.1, K_exact, K_f1, K_total, ... for v2.0), K_runtime,
// K_samples_per_second, K_steps_per_second (batches of batch_size), <split>_samples (windows),
// and epoch when >= 0 (epoch_value); K is "eval" for eval and "test" for predict
// (QuestionAnsweringTrainer.predict's metric_key_prefix; run_qa adds predict_samples itself).
// K_runtime is the model's time (outcome.model_seconds), as speed_metrics is taken before the
// post-processing; K_model_preparation_time when the outcome has one (>= 0).
// num_input_tokens_seen when >= 0 (--include_num_input_tokens_seen: Trainer.log adds it, with
// epoch, to the dict that evaluate() then returns).
MetricsDict eval_metrics(const EvalOutcome& outcome, size_t windows, int batch_size, double epoch,
                         const std::string& split = "eval", int64_t num_input_tokens_seen = -1);
// Evaluation batches of batch_size windows (the "steps" of K_steps_per_second).
size_t eval_batches(size_t windows, int batch_size);

// Trainer.log_metrics' block for a split, as run_qa prints it after each stage: "***** <split>
// metrics *****", then each key (sorted) and its value aligned as metrics_format shows them
// (runtimes as h:mm:ss.cc, total_flos in GF, other floats rounded to 4 decimals).
std::string log_metrics_text(const std::string& split, const MetricsDict& metrics);

// Writes <split>_predictions.json, <split>_nbest_predictions.json, for SQuAD v2.0
// <split>_null_odds.json (as run_qa.py's postprocess_qa_predictions with that prefix) and
// <split>_results.json / all_results.json (eval_metrics; epoch < 0 leaves "epoch" out) into
// output_dir; returns the metrics written.
// The files write_eval_outputs may write into output_dir for split (the null odds only for
// SQuAD v2.0), for checking them before an evaluation.
std::vector<std::string> eval_output_paths(const std::string& output_dir,
                                           const std::string& split = "eval");
MetricsDict write_eval_outputs(const std::string& output_dir, const EvalOutcome& outcome,
                               size_t windows, int batch_size, double epoch,
                               const std::string& split = "eval",
                               int64_t num_input_tokens_seen = -1);

// run_qa's training metrics: epoch, total_flos (Trainer's count over the whole run), train_loss
// (the run's mean), train_runtime, train_samples (windows), train_samples_per_second,
// train_steps_per_second (Trainer's speed_metrics rounding), train_skipped_updates (this
// engine's count of steps skipped for a non-finite loss), and num_input_tokens_seen when >= 0.
MetricsDict train_metrics(const TrainSummary& summary, double epoch, double total_flos, size_t windows,
                          int64_t num_input_tokens_seen = -1);

// One logged dict of the run's metrics log (trainer_log.jsonl): (key, JSON token) in the order
// written, floats as Python's repr.
using LoggedDict = std::vector<std::pair<std::string, std::string>>;
// Every line of the metrics log; a missing file gives none. InputError naming the file for a
// line that is not a JSON object.
std::vector<LoggedDict> read_metrics_log(const std::string& path);
// The same from the log's text (`path` names it in errors).
std::vector<LoggedDict> parse_metrics_log(const std::string& text, const std::string& path);

// The counters of Hugging Face's TrainerState that this engine knows.
struct HfTrainerState {
  int64_t global_step = 0, max_steps = 0;
  double epoch = 0;
  int64_t num_train_epochs = 0;  // ceil(max_steps / steps per epoch), as Trainer stores it
  int64_t logging_steps = 0, eval_steps = 0, save_steps = 0;
  int64_t train_batch_size = 0;  // per device
  double total_flos = 0;
  int64_t num_input_tokens_seen = 0;
  // stateful_callbacks' TrainerControl, as Trainer stored it at its last checkpoint (all false
  // when none was saved): should_save, and should_training_stop when that was the last step.
  bool control_should_save = false, control_should_training_stop = false;
  // The best evaluation (--metric_for_best_model): best_metric NaN when none, best_global_step
  // 0 when no checkpoint step was recorded, best_model_checkpoint "" when it was not saved.
  double best_metric = std::numeric_limits<double>::quiet_NaN();
  int64_t best_global_step = 0;
  std::string best_model_checkpoint;
};
// trainer_state.json text; log_history from the JSON Lines file at metrics_log_path (each line
// one dict, keys sorted); a missing file gives an empty history.
std::string hf_trainer_state_json(const HfTrainerState& state, const std::string& metrics_log_path);
// The same with the history given.
std::string hf_trainer_state_json(const HfTrainerState& state,
                                  const std::vector<LoggedDict>& history);

}  // namespace bert
