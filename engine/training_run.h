// A training run in its output_dir, as Hugging Face's run_qa.py + Trainer conduct it: the parts
// of train_squad that are not flag parsing.
//
// - The output_dir: rank 0 creates it, takes its lock (engine/output_dir.h), applies run_qa's
//   policy for a directory that is not empty, checks it can write there and records the
//   run's arguments (training_args.json) before anything else happens.
// - Resuming: an explicit checkpoint, 'latest'/'true' for output_dir's newest, and output_dir's
//   newest anyway unless --overwrite_output_dir (resolve_resume_dir); the checkpoint must come
//   from the same config.json.
// - Before training: temporaries of killed saves removed, --overwrite_output_dir's deletion,
//   trainer_log.jsonl cut back to the step training starts from.
// - Training: the Trainer with rank 0's hooks (progress line, trainer_log.jsonl, TensorBoard,
//   checkpoints, evaluation at --eval_strategy points), stop signals, and the command that
//   continues a stopped run.
// - Results: the model, train_results.json / all_results.json, the summary line of the log,
//   eval outputs and trainer_state.json, with Hugging Face's names (engine/hf_outputs.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/postprocess.h"
#include "data/prepared_squad.h"
#include "engine/bert_qa_model.h"
#include "engine/evaluator.h"
#include "engine/output_dir.h"
#include "engine/run_commands.h"
#include "engine/run_history.h"
#include "engine/trainer.h"
#include "engine/training_state.h"
#include "io/bert_config.h"
#include "io/model_dir.h"  // SavedTokenizer
#include "logging/kubeflow_status.h"
#include "logging/metrics_log.h"
#include "logging/progress.h"  // ProgressPace
#include "logging/tensorboard_writer.h"

namespace bert {

class Communicator;

inline constexpr const char* kTrainingArgsFile = "training_args.json";

// What the run does in output_dir and how it evaluates, beside the Trainer's own TrainConfig.
struct RunSettings {
  std::string output_dir;
  bool do_train = false;
  bool overwrite_output_dir = false;
  std::string resume_from_checkpoint;  // "", a checkpoint directory, or "latest" / "true" / "True"
  int64_t save_total_limit = -1;       // > 0: keep only the newest N checkpoints
  SavedTokenizer tokenizer;            // recorded in every saved model's tokenizer_config.json
  int eval_batch_size = 8;
  PostprocessConfig postprocess;
  bool progress_bar = true;  // on a terminal (--disable_tqdm false)
  ProgressPace progress_pace;  // TQDM_MININTERVAL's, when set
  // transformers' best-model tracking: the evaluations during training are ranked by this score
  // ("exact_match" or "f1"; "" tracks nothing), higher better unless greater_is_better is
  // false; the best's checkpoint survives save_total_limit, and with load_best_model_at_end its
  // weights become the final model (evaluated by --do_eval).
  std::string metric_for_best_model;
  bool greater_is_better = true;
  bool load_best_model_at_end = false;
  bool eval_on_start = false;  // evaluate before the first step (of this run: also when resumed)
  // Interval checkpoints hold the model alone (no training state: not resumable); a checkpoint
  // taken to stop early still holds everything.
  bool save_only_model = false;
  // transformers' save strategies as they concern the best model: checkpoints are saved at all
  // (steps, epoch, best: the best evaluation's step is recorded), and --save_strategy best (a
  // checkpoint at each new best evaluation; the trainer's own save strategy is then "no").
  bool saves_checkpoints = true;
  bool save_on_best = false;
};

// Rank 0, first thing: creates output_dir and takes its lock (held while the returned object
// lives). When the directory may not be used (engine/output_dir.h's policy for a training
// run), *refusal says why and nothing is written; otherwise a write is tried (failing now, not
// after training) and args_record is saved as training_args.json.
OutputDirLock claim_output_dir(const RunSettings& run, const std::string& args_record, std::string* refusal);

// The checkpoint to resume from ("" for a fresh run), Hugging Face's way: an explicit path,
// 'latest'/'true' for output_dir's newest, and output_dir's newest anyway when it holds
// checkpoints and --overwrite_output_dir is not given (a line on stderr says so, when `log`:
// rank 0 of a multi-process run). InputError naming output_dir when 'latest' finds none.
std::string resolve_resume_dir(const RunSettings& run, bool log = true);
// Whether a --resume_from_checkpoint value asks for output_dir's newest checkpoint (latest,
// true, True) rather than naming a directory.
inline bool names_newest_checkpoint(const std::string& value) {
  return value == "latest" || value == "true" || value == "True";
}

// The checkpoint must come from the model configuration of --model_name_or_path: InputError
// naming the checkpoint's config.json otherwise.
void check_checkpoint_config(const std::string& checkpoint, const BertConfig& config, const std::string& model_dir);

// Rank 0, after the model is built and before training: removes temporaries of killed saves,
// applies --overwrite_output_dir (deletes what train_squad wrote, keeps the rest), drops
// trainer_log.jsonl lines after resume_step (0 for a fresh run: the whole old log) and, when
// resuming, applies --save_total_limit (never to the checkpoints of resume_step and best_step).
void prepare_output_dir_for_training(const RunSettings& run, int64_t resume_step,
                                     int64_t best_step);

// Rank 0's logs: output_dir/trainer_log.jsonl for a training run (the log history its
// trainer_state.json and checkpoints carry; an evaluation-only run, whose history Trainer never
// saves, leaves it alone); TensorBoard event files when asked, in logging_dir or by default a
// new output_dir/runs/<date>_<host> per run as Hugging Face does.
struct RunLogs {
  std::unique_ptr<MetricsLog> metrics;             // null: not a training run
  std::unique_ptr<TensorBoardWriter> tensorboard;  // null: --report_to none
  // Progress to Kubeflow Trainer: a training run inside a TrainJob that asks for it (the
  // environment, as transformers 5.25 adds "kubeflow" to report_to by itself); else null.
  std::unique_ptr<KubeflowStatusReporter> kubeflow;
};
RunLogs open_run_logs(const std::string& output_dir, bool training, bool tensorboard,
                      const std::string& logging_dir);

// Evaluates (during training at --eval_strategy points, or at the end with final = true, which
// also writes the predictions and eval_results.json); logs the metrics to the run's logs and
// stderr. epoch: Trainer's state.epoch (0 in an evaluation-only run, logged as the integer 0);
// input_tokens_seen < 0: not logged (logged_input_tokens); model_preparation_seconds >= 0 (a run
// without training: the time its model took to be placed on the backend) is logged as
// eval_model_preparation_time, as Trainer logs its first evaluation's accelerate preparation.
SquadScores evaluate_and_log(const RunSettings& run, BertQaModel& model, const PreparedSquad& eval,
                             int64_t step, double epoch, int64_t input_tokens_seen, RunLogs* logs,
                             bool final, double model_preparation_seconds = -1);

// run_qa's predict stage (--do_predict): predictions of the test set, written with the
// "predict" prefix (predict_predictions.json, predict_nbest_predictions.json,
// predict_results.json and all_results.json), scored when every question has answers; no
// epoch and nothing in the log history, as QuestionAnsweringTrainer.predict (with
// test_model_preparation_time when model_preparation_seconds >= 0; its test_runtime does not
// take that time off again, as QuestionAnsweringTrainer.predict does after an evaluation already
// reported it). Returns the outcome.
EvalOutcome predict_and_write(const RunSettings& run, BertQaModel& model, const PreparedSquad& test,
                              double model_preparation_seconds = -1);

// Everything run_training needs besides the settings.
struct TrainingJob {
  const BertConfig* config = nullptr;
  std::string vocab_file;  // copied into every saved model directory
  BertQaModel* model = nullptr;
  const std::vector<Window>* windows = nullptr;
  Communicator* comm = nullptr;
  RunLogs* logs = nullptr;  // null on ranks other than 0
  std::string resume_dir;
  CommandLine command_line;             // this run's, for the commands that continue it
  const PreparedSquad* eval = nullptr;  // for --eval_strategy steps|epoch (rank 0; null elsewhere)
};

// How a training run ended: the trainer's state, and the step of the last checkpoint saved
// (or resumed from; 0: none), whose moment Trainer's control state in trainer_state.json shows.
struct TrainingEnd {
  TrainerState state;
  int64_t last_save_step = 0;
  bool model_saved = false;  // the run completed and its model is in output_dir (even when a
                             // late signal then stops the job before its evaluation)
};

// Trains (resuming when job.resume_dir is set); rank 0 logs, saves checkpoints and, at the
// end, the model and the training results. Returns the exit status when the app must stop
// here (stopped by --stop_after_steps or a signal: 0 or 128 + the signal), -1 to go on to
// evaluation; *end says how the run ended.
int run_training(const RunSettings& run, const TrainConfig& tc, const TrainingJob& job, TrainingEnd* end);

}  // namespace bert
