// Hugging Face TrainingArguments / run_qa.py flags that train_squad takes beside its own
// (registered, checked and applied here), with the line the log prints for each, so that a flag
// accepted for compatibility never passes silently:
//   --eval_strategy / --eval_steps / --eval_delay, --save_strategy   the trainer's IntervalStrategy
//                              (engine/trainer.h);
//   --lr_scheduler_type, --lr_scheduler_kwargs   its learning-rate schedule (engine/lr_schedule.h);
//   --overwrite_cache, --logging_dir;
//   --version_2_with_negative, --null_score_diff_threshold   SQuAD v2.0 (data/squad_metric_v2.h,
//                              data/postprocess.h);
//   --dataset_name / --dataset_config_name   a Hub dataset from the datasets cache
//                              (apps/dataset_location.h); --pad_to_max_length (how total_flos
//                              counts tokens: accepted, it changes no result here, and the log says
//                              why); --preprocessing_num_workers (the threads that build the
//                              windows);
//   --bf16 / --fp16 / --tf32   precision of the backend (CUDA: bf16 compute by default, fp32 with
//                              --bf16 false or BERT_CUDA_COMPUTE=fp32; fp16 is refused; TF32 is
//                              never used; the CPU backend always computes in fp32);
//   --report_to                where metrics go: "all" / "tensorboard" (TensorBoard event files),
//                              "none" (the default, as in transformers 5); other integrations
//                              (wandb, mlflow, ...) are not available here and the log says so;
//   transformers 5's names:    --train_sampling_strategy random|group_by_length|sequential
//                              (group_by_length: transformers 4's --group_by_length;
//                              batch_rebalance refused), --optim adamw_torch|adamw_torch_fused (the
//                              AdamW here; others refused),
//                              --use_cpu (--device cpu);
//   --logging_strategy steps|epoch|no, --logging_first_step   when the loss lines are logged;
//   --disable_tqdm             no progress bar on a terminal (the logging lines stay);
//   --metric_for_best_model f1|exact_match (v2.0: exact, f1, HasAns_*, NoAns_*, best_exact,
//                              best_f1; eval_ prefix optional), --greater_is_better,
//   --load_best_model_at_end   transformers' best checkpoint (engine/training_run.h's RunSettings);
//   --eval_on_start            an evaluation before the first step;
//   --save_only_model          checkpoints without training state (a stop still saves it);
//   --include_num_input_tokens_seen all|non_padding|no (true: all)   num_input_tokens_seen in
//                              the logs, results files and trainer_state.json;
//   --config_name, --tokenizer_name   run_qa's model arguments: accepted when they name
//                              --model_name_or_path's own (refused otherwise, with what to do
//                              instead);
//   --model_revision, --cache_dir   a Hub id's snapshot in the Hugging Face cache
//                              (apps/model_location.h);
//   --run_name                 accepted: it names a run for integrations this engine does not
//                              have (the log says so).
#pragma once

#include <string>
#include <vector>

#include "apps/dataset_location.h"
#include "apps/flags.h"
#include "engine/backend_registry.h"
#include "engine/trainer.h"

namespace bert {

struct PrecisionFlags {
  bool bf16_given = false, bf16 = true;
  bool fp16 = false;
  bool tf32_given = false, tf32 = false;
};

struct HfTrainerOptions {
  std::string eval_strategy = "no", save_strategy = "steps", lr_scheduler_type = "linear";
  std::string lr_scheduler_kwargs;  // a JSON object, as TrainingArguments takes it on a command line
  LrScheduleConfig lr_schedule;     // both, checked: derived by resolve_lr_schedule
  std::string logging_dir, report_to = "none";  // transformers 5's default
  std::string train_sampling_strategy = "random", optim = "adamw_torch_fused";
  std::string logging_strategy = "steps", run_name;
  DatasetFlags dataset;  // --dataset_name, --dataset_config_name (apps/dataset_location.h)
  double eval_steps = -1;  // <= 0: logging_steps, as Hugging Face; below 1: a fraction of the steps
  double eval_delay = 0;   // no evaluation before this step (steps) or epoch (epoch)
  int64_t preprocessing_num_workers = -1;
  bool pad_to_max_length = true;
  bool bf16 = true, fp16 = false, tf32 = false, overwrite_cache = false, version_2_with_negative = false;
  double null_score_diff_threshold = 0.0;
  bool use_cpu = false, logging_first_step = false, disable_tqdm = false;
  std::string metric_for_best_model;  // as given; best_metric_name() is the engine's name
  bool load_best_model_at_end = false, greater_is_better = true, eval_on_start = false, save_only_model = false;
  std::string include_num_input_tokens_seen = "no";  // all, non_padding or no (true: all)
  // run_qa.py's ModelArguments beside --model_name_or_path: accepted when they name what it
  // names (the model directory, or its config.json) and "main".
  std::string config_name, tokenizer_name, model_revision = "main";
  std::string cache_dir;  // the Hugging Face cache a Hub id is looked up in (apps/model_location.h)
  PrecisionFlags precision;  // derived by resolve_hf_trainer_flags
};

void register_hf_trainer_flags(FlagParser* parser, HfTrainerOptions* options);
// The run_qa.py flags these resolve into (train_squad's own).
struct HfResolvedFlags {
  bool* do_eval;
  bool group_by_length;     // transformers 4's flag, as given
  TrainSampling* sampling;  // --train_sampling_strategy, or group_by_length with --group_by_length
  std::string* device;      // "cpu" with --use_cpu
};

// After parsing: the precision flags as given, --eval_strategy steps|epoch implying --do_eval
// (as TrainingArguments.__post_init__ does; a note says so), --train_sampling_strategy and
// --use_cpu into the flags they name. FlagError when those contradict --group_by_length or
// --device, or name what this engine does not do.
void resolve_hf_trainer_flags(const FlagParser& parser, HfTrainerOptions* options, const HfResolvedFlags& resolved,
                              std::vector<std::string>* notes);
// FlagError (exit 2) for unknown strategy / report_to names, --fp16,
// --eval_strategy without --do_train, and a --config_name or --tokenizer_name other than
// --model_name_or_path's own (--model_revision is apps/model_location.h's).
void check_hf_trainer_flags(const HfTrainerOptions& options, bool do_train, const std::string& model_name_or_path);
// --lr_scheduler_type with --lr_scheduler_kwargs into options->lr_schedule, for a run whose peak
// rate is learning_rate (after check_hf_trainer_flags; the rate is checked by then): FlagError
// naming the flag and the key for what transformers would refuse, or what is not implemented.
void resolve_lr_schedule(HfTrainerOptions* options, double learning_rate, std::vector<std::string>* notes);
// --metric_for_best_model as the engine names it: a score's name ("f1", "exact_match", v2.0's
// "HasAns_f1", ...) or "" (none).
std::string best_metric_name(const HfTrainerOptions& options);
// transformers' checks of --load_best_model_at_end (an evaluation strategy that saves when it
// evaluates) and of the metric's name; FlagError otherwise. eval_steps <= 0 means logging_steps.
void check_best_model_flags(const HfTrainerOptions& options, double save_steps, double logging_steps);
// Strategies, eval_steps and schedule into the trainer's configuration (after logging_steps).
void apply_hf_trainer_flags(const HfTrainerOptions& options, TrainConfig* config);

// CUDA options from BERT_CUDA_COMPUTE, then --bf16 when given (it wins; *notes says so when
// they disagree). Throws FlagError for --fp16 true (not implemented).
CudaBackendOptions cuda_options_for(const PrecisionFlags& flags, std::vector<std::string>* notes);

// What the backend (Backend::name(): cpu, cpu-double, cuda, cuda-fp32) computes in, and what
// --bf16 / --tf32 do or do not do on it: one or two lines for the log.
std::vector<std::string> precision_notes(const std::string& backend_name, const PrecisionFlags& flags);

struct ReportTo {
  bool tensorboard = true;
  std::vector<std::string> notes;  // integrations asked for that are not available here
};
// Comma- or space-separated names as --report_to takes them ("all", "none", "tensorboard",
// "wandb", ...). Throws FlagError for an empty list, "none" mixed with other names, or a name
// that is not one of transformers' integrations (Trainer refuses it too).
ReportTo parse_report_to(const std::string& value);

}  // namespace bert
