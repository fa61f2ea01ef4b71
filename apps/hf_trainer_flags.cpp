#include "apps/hf_trainer_flags.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <sstream>

#include "apps/dataset_location.h"
#include "apps/flag_checks.h"
#include "apps/flags.h"
#include "core/file_io.h"
#include "core/strings.h"
#include "data/squad_metric_v2.h"
#include "engine/lr_schedule.h"
#include "logging/kubeflow_status.h"

namespace bert {

void register_hf_trainer_flags(FlagParser* p, HfTrainerOptions* o) {
  p->add_bool("version_2_with_negative", &o->version_2_with_negative,
              "SQuAD v2.0: some questions have no answer (trained to point at [CLS]); the null answer competes "
              "in span selection and the v2.0 metric scores (eval_exact, eval_f1, eval_HasAns_*, eval_NoAns_*, "
              "eval_best_*); without it, v2 data is refused");
  p->add_double("null_score_diff_threshold", &o->null_score_diff_threshold,
                "with --version_2_with_negative: predict no answer when the null score exceeds the "
                "best span's by more than this (inf: never, -inf: always)",
                FlagParser::Infinity::kAllowed);
  p->add_string("eval_strategy", &o->eval_strategy,
                "evaluate during training: no, steps (every --eval_steps) or epoch (after each epoch); "
                "implies --do_eval");
  p->add_double("eval_steps", &o->eval_steps,
                "with --eval_strategy steps: evaluate every N steps; a number below 1: that fraction of the run's "
                "steps, rounded up; <= 0: --logging_steps");
  p->add_double("eval_delay", &o->eval_delay,
                "no evaluation during training before this step (--eval_strategy steps) or epoch (epoch), as "
                "transformers");
  p->add_string("save_strategy", &o->save_strategy,
                "when to save checkpoint-N: no, steps (every --save_steps), epoch (after each epoch) or best (at "
                "each evaluation that is the best so far by --metric_for_best_model)");
  p->add_string("lr_scheduler_type", &o->lr_scheduler_type,
                "learning-rate schedule, as transformers' get_scheduler: linear, cosine, cosine_with_restarts, "
                "polynomial, constant (ignores warmup), constant_with_warmup, inverse_sqrt, cosine_with_min_lr, "
                "cosine_warmup_with_min_lr, warmup_stable_decay or reduce_lr_on_plateau (after each evaluation "
                "during training, by --metric_for_best_model)");
  p->add_string("lr_scheduler_kwargs", &o->lr_scheduler_kwargs,
                "the schedule's own arguments as a JSON object, as transformers takes them: num_cycles (cosine, "
                "cosine_with_restarts, the *_min_lr schedules, warmup_stable_decay), lr_end and power "
                "(polynomial), timescale (inverse_sqrt), min_lr or min_lr_rate (required by the *_min_lr "
                "schedules), warmup_lr_rate (cosine_warmup_with_min_lr), num_decay_steps (required), "
                "num_stable_steps, warmup_type, decay_type and min_lr_ratio (warmup_stable_decay), mode, factor, "
                "patience, threshold, threshold_mode, cooldown, min_lr and eps (reduce_lr_on_plateau); e.g. "
                "'{\"min_lr_rate\": 0.1}'");
  p->add_bool("bf16", &o->bf16,
              "CUDA: bf16 activations and GEMM operands with fp32 master weights (the default); false "
              "computes in fp32. The CPU backend computes in fp32 either way");
  p->add_bool("fp16", &o->fp16, "fp16 mixed precision: not implemented (true is refused; use --bf16)");
  p->add_bool("tf32", &o->tf32,
              "accepted for compatibility; TF32 is never used: fp32 GEMMs stay full fp32 (the log says what "
              "it means on the device)");
  p->add_bool("overwrite_cache", &o->overwrite_cache,
              "rebuild and rewrite --train_cache_file even when it matches the data and settings");
  p->add_string(
      "logging_dir", &o->logging_dir,
      "with --report_to tensorboard (or all), TensorBoard event files go here (default: the "
      "TENSORBOARD_LOGGING_DIR environment variable, as transformers 5 reads it, else "
      "output_dir/runs/<date>_<host>, a new run each time)");
  register_dataset_flags(p, &o->dataset,
                         "its train, validation and test splits replace --train_file, --validation_file and "
                         "--test_file");
  p->add_bool("pad_to_max_length", &o->pad_to_max_length,
              "accepted for compatibility: batches are packed without padding either way. Padded positions "
              "are masked out as keys, so the real tokens' logits are the same; what they add in Hugging Face "
              "is their own logits, which enter the training loss's softmax and may take slots of run_qa's "
              "n-best candidates (then dropped, leaving fewer real spans); here neither happens (run_qa "
              "unpadded, one window per batch). total_flos counts the tokens as Hugging Face's batches would "
              "hold them (padded to --max_seq_length, or false: to each batch's longest window)");
  p->add_int64(
      "preprocessing_num_workers", &o->preprocessing_num_workers,
      "threads that tokenize the data into windows (datasets.map's worker processes in run_qa.py); "
      "<= 0: the cores available to this rank (cores / ranks per node under mpirun). The windows "
      "are the "
      "same for any count");
  p->add_string(
      "report_to", &o->report_to,
      "where metrics go: all or tensorboard (TensorBoard event files), none (transformers 5's "
      "default); transformers' other integrations (wandb, mlflow, ...) are not available here and "
      "the "
      "log says so; any other name is refused. A training run always writes trainer_log.jsonl");
  p->add_string("train_sampling_strategy", &o->train_sampling_strategy,
                "the epochs' order as transformers 5 names it: random (shuffled each epoch), group_by_length "
                "(as --group_by_length) or sequential (the file's order every epoch); batch_rebalance is refused");
  p->add_string("optim", &o->optim,
                "the optimizer: adamw_torch or adamw_torch_fused (transformers 5's default), both the AdamW here "
                "(PyTorch's update, fused kernels on CUDA); other optimizers are refused");
  p->add_bool("use_cpu", &o->use_cpu, "train and evaluate on the CPU (as --device cpu)");
  p->add_string("config_name", &o->config_name,
                "run_qa's: accepted when it names --model_name_or_path or its config.json (the configuration is "
                "read from there); anything else is refused");
  p->add_string("tokenizer_name", &o->tokenizer_name,
                "run_qa's: accepted when it names --model_name_or_path (the tokenizer is read from there); "
                "anything else is refused");
  p->add_string("model_revision", &o->model_revision,
                "run_qa's Hub revision (a branch, a tag or a commit hash) of a Hub id given as --model_name_or_path, "
                "read from the Hugging Face cache (nothing is downloaded); a local directory takes only main");
  p->add_string("cache_dir", &o->cache_dir,
                "run_qa's: the Hugging Face cache a Hub id given as --model_name_or_path is read from (default: "
                "$HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub); nothing is downloaded");
  p->add_bool_or_word("include_num_input_tokens_seen", &o->include_num_input_tokens_seen, "all", "no",
                      {"all", "non_padding", "no"},
                      "count the input tokens trained on, over all ranks, as transformers does: all (every "
                      "position of Hugging Face's input_ids, padding included: padded to --max_seq_length with "
                      "--pad_to_max_length, else to each device batch's longest window), non_padding (the "
                      "windows' real tokens) or no; alone or true: all. The count goes into every log line "
                      "(loss lines also get train_runtime and train_tokens_per_second), the results files "
                      "and trainer_state.json");
  p->add_string(
      "logging_strategy", &o->logging_strategy,
      "when a loss line is logged (console, trainer_log.jsonl, TensorBoard): steps (every "
      "--logging_steps: multiples of it only, as transformers), epoch (at each epoch's end, the "
      "last step's partial epoch included) or no");
  p->add_bool("logging_first_step", &o->logging_first_step, "also log the first step");
  p->add_bool("disable_tqdm", &o->disable_tqdm,
              "no progress bar on a terminal: only the logged lines (a bar is never drawn off a terminal)");
  p->add_string("metric_for_best_model", &o->metric_for_best_model,
                "rank the evaluations during training (--eval_strategy) by f1 or exact_match (eval_ prefix "
                "optional): trainer_state.json's best_metric and best_model_checkpoint, a best checkpoint "
                "that --save_total_limit keeps");
  p->add_bool("greater_is_better", &o->greater_is_better, "with --metric_for_best_model: higher is better");
  p->add_bool("load_best_model_at_end", &o->load_best_model_at_end,
              "after training, the best checkpoint's weights (by --metric_for_best_model) become the saved "
              "and evaluated model; needs --save_strategy equal to --eval_strategy (save_steps a multiple of "
              "eval_steps)");
  p->add_bool("save_only_model", &o->save_only_model,
              "checkpoints hold the model alone, without the optimizer state (a third of the size with fp32 "
              "Adam moments): they cannot be resumed; a checkpoint taken to stop early (--stop_after_steps, a "
              "signal) still holds everything");
  p->add_bool("eval_on_start", &o->eval_on_start,
              "evaluate once before the first step (logged at that step; needs --do_eval), as a check that "
              "evaluation works before training long");
  // Names older transformers took, which its own parser now refuses as well.
  p->add_renamed("evaluation_strategy", "eval_strategy", "transformers renamed it and has since removed the old name");
  p->add_renamed("no_cuda", "use_cpu", "transformers replaced it and has since removed the old name; or --device cpu");
  p->add_string("run_name", &o->run_name,
                "accepted for compatibility: it names a run for wandb/mlflow-like integrations, which this "
                "engine does not have (TensorBoard's directory: see --logging_dir)");
}

namespace {

// --train_sampling_strategy (transformers 5) against --group_by_length (transformers 4).
void resolve_sampling_strategy(const FlagParser& parser, const HfTrainerOptions& o, bool group_by_length,
                               TrainSampling* sampling) {
  const std::string& strategy = o.train_sampling_strategy;
  if (strategy == "batch_rebalance")
    throw FlagError("--train_sampling_strategy batch_rebalance balances the padding of data-parallel batches; "
                    "batches here are packed without padding, so there is none to balance: give random, "
                    "group_by_length or sequential");
  if (!parse_train_sampling(strategy, sampling))
    throw FlagError("--train_sampling_strategy: expected random, group_by_length or sequential, got '" + strategy +
                    "'");
  if (!parser.was_set("train_sampling_strategy")) {
    if (group_by_length) *sampling = TrainSampling::kGroupByLength;
    return;
  }
  if (parser.was_set("group_by_length") && group_by_length != (*sampling == TrainSampling::kGroupByLength))
    throw FlagError("--train_sampling_strategy " + strategy + " and --group_by_length " +
                    (group_by_length ? "true" : "false") + " contradict each other: give one");
}

}  // namespace

void resolve_hf_trainer_flags(const FlagParser& parser, HfTrainerOptions* o, const HfResolvedFlags& resolved,
                              std::vector<std::string>* notes) {
  bool* do_eval = resolved.do_eval;
  resolve_sampling_strategy(parser, *o, resolved.group_by_length, resolved.sampling);
  if (parser.was_set("group_by_length") && !parser.was_set("train_sampling_strategy"))
    notes->push_back("--group_by_length is transformers 4's flag (transformers 5 removed it): taken as such; "
                     "transformers 5 spells it --train_sampling_strategy " +
                     std::string(resolved.group_by_length ? "group_by_length" : "random"));
  if (!o->run_name.empty())
    notes->push_back("--run_name " + o->run_name +
                     " names nothing here: no integration that uses it is available (with "
                     "--report_to tensorboard, "
                     "TensorBoard events go to --logging_dir, TENSORBOARD_LOGGING_DIR or "
                     "output_dir/runs/<date>_<host>)");
  if (o->use_cpu) {
    if (parser.was_set("device") && *resolved.device != "cpu" && *resolved.device != "cpu-double")
      throw FlagError("--use_cpu and --device " + *resolved.device + " contradict each other: give one");
    if (*resolved.device != "cpu-double") *resolved.device = "cpu";
  }
  o->precision = PrecisionFlags{parser.was_set("bf16"), o->bf16, o->fp16, parser.was_set("tf32"), o->tf32};
  if (o->eval_strategy != "no" && !*do_eval) {
    *do_eval = true;
    notes->push_back("--eval_strategy " + o->eval_strategy + " implies --do_eval");
  }
  // run_qa's default is true: given so (as training_args.json gives every flag) it asks for
  // nothing a note would answer.
  if (parser.was_set("pad_to_max_length") && !o->pad_to_max_length)
    notes->push_back(
        std::string("--pad_to_max_length false") +
        " changes nothing here but how total_flos counts the tokens (as Hugging Face's batches "
        "would hold them): batches are packed without padding, so no padded position enters the "
        "loss or the n-best candidates (see --help)");
}

std::string best_metric_name(const HfTrainerOptions& o) {
  std::string name = o.metric_for_best_model;
  if (name.rfind("eval_", 0) == 0) name = name.substr(5);
  return name;
}

void check_best_model_flags(const HfTrainerOptions& o, double save_steps, double logging_steps) {
  const std::string metric = best_metric_name(o);
  // The scores run_qa's metric returns: squad's, or squad_v2's with --version_2_with_negative.
  const std::vector<std::string> v1_scores = {"exact_match", "f1"};
  const std::vector<std::string>& scores = o.version_2_with_negative ? squad_v2_ranking_scores() : v1_scores;
  const std::string names = joined(scores);
  if (metric == "loss")
    throw FlagError("--metric_for_best_model " + o.metric_for_best_model +
                    ": run_qa's evaluation computes no loss (QuestionAnsweringTrainer scores spans); give one of " +
                    names);
  if (!metric.empty() && std::find(scores.begin(), scores.end(), metric) == scores.end())
    throw FlagError("--metric_for_best_model: expected one of " + names + " (eval_ prefix optional)" +
                    (o.version_2_with_negative ? "" : "; SQuAD v2.0's scores with --version_2_with_negative") +
                    ", got '" + o.metric_for_best_model + "'");
  if (o.save_strategy == "best" && metric.empty())
    throw FlagError("--save_strategy best saves at each new best evaluation by --metric_for_best_model: give "
                    "--metric_for_best_model f1 (or exact_match)");
  if (!o.load_best_model_at_end) return;
  if (metric.empty())
    throw FlagError("--load_best_model_at_end ranks the evaluations by --metric_for_best_model, whose default in "
                    "transformers is the loss, which run_qa's evaluation does not compute: give "
                    "--metric_for_best_model f1 (or exact_match)");
  if (o.save_strategy == "best") return;
  if (o.eval_strategy == "no" || o.eval_strategy != o.save_strategy)
    throw FlagError("--load_best_model_at_end requires the save and eval strategy to match (as transformers): "
                    "--eval_strategy " + o.eval_strategy + ", --save_strategy " + o.save_strategy);
  const double eval_steps = o.eval_steps > 0 ? o.eval_steps : logging_steps;
  if (o.eval_strategy != "steps") return;
  const std::string given = ": --save_steps " + flag_number(save_steps) + ", --eval_steps " + flag_number(eval_steps);
  if (save_steps <= 0)
    throw FlagError("--load_best_model_at_end with --eval_strategy steps needs checkpoints at the evaluations" + given);
  // transformers: a ratio and a count cannot be checked against each other; two ratios are
  // compared in millionths, two counts exactly.
  if ((save_steps < 1) != (eval_steps < 1))
    throw FlagError("--load_best_model_at_end requires --save_steps to be a multiple of --eval_steps, which cannot be "
                    "guaranteed when one is a fraction of the run's steps and the other a count (as transformers)" +
                    given);
  const bool ratios = save_steps < 1;
  if (std::fmod(ratios ? save_steps * 1e6 : save_steps, ratios ? eval_steps * 1e6 : eval_steps) != 0)
    throw FlagError("--load_best_model_at_end requires --save_steps to be a round multiple of --eval_steps (as "
                    "transformers)" + given);
}

namespace {

// run_qa's --config_name / --tokenizer_name load from another place than the model; here the
// model directory holds both, so only that directory (or its config.json) is taken.
void check_model_arguments(const HfTrainerOptions& o, const std::string& model) {
  if (!o.config_name.empty() && o.config_name != model && !paths_name_same_file(o.config_name, model) &&
      !paths_name_same_file(o.config_name, join_path(model, "config.json")))
    throw FlagError("--config_name " + o.config_name + ": the configuration is read from --model_name_or_path " +
                    model + " (its config.json); to train with another, put it there as config.json (a model "
                    "directory without model.safetensors starts from initialised weights)");
  if (!o.tokenizer_name.empty() && o.tokenizer_name != model && !paths_name_same_file(o.tokenizer_name, model))
    throw FlagError("--tokenizer_name " + o.tokenizer_name + ": the tokenizer is read from --model_name_or_path " +
                    model + " (vocab.txt, tokenizer.json or a SentencePiece model, with tokenizer_config.json); "
                    "copy the tokenizer's files there");
}

}  // namespace

void check_hf_trainer_flags(const HfTrainerOptions& o, bool do_train, const std::string& model_name_or_path) {
  check_model_arguments(o, model_name_or_path);
  if (o.optim != "adamw_torch" && o.optim != "adamw_torch_fused")
    throw FlagError("--optim " + o.optim + ": this engine's optimizer is PyTorch's AdamW (adamw_torch, "
                    "adamw_torch_fused); other optimizers are not implemented");
  IntervalStrategy strategy;
  if (!parse_interval_strategy(o.eval_strategy, &strategy))
    throw FlagError("--eval_strategy: expected no, steps or epoch, got '" + o.eval_strategy + "'");
  if (!parse_interval_strategy(o.logging_strategy, &strategy))
    throw FlagError("--logging_strategy: expected no, steps or epoch, got '" + o.logging_strategy + "'");
  if (o.save_strategy != "best" && !parse_interval_strategy(o.save_strategy, &strategy))
    throw FlagError("--save_strategy: expected no, steps, epoch or best, got '" + o.save_strategy + "'");
  if (o.fp16)
    throw FlagError("--fp16: fp16 mixed precision is not implemented by this engine; use --bf16 (the default "
                    "on CUDA) or --bf16 false for fp32 compute");
  if (o.eval_strategy != "no" && !do_train)
    throw FlagError("--eval_strategy " + o.eval_strategy + " evaluates during training: it needs --do_train");
  parse_report_to(o.report_to);
}

void resolve_lr_schedule(HfTrainerOptions* o, double learning_rate, std::vector<std::string>* notes) {
  try {
    o->lr_schedule = parse_lr_schedule_config(o->lr_scheduler_type, o->lr_scheduler_kwargs, learning_rate, notes);
  } catch (const InputError& e) {
    throw FlagError(e.what());  // a flag's value: exit 2, as every flag error
  }
  if (o->lr_schedule.type != LrSchedule::kReduceLrOnPlateau) return;
  // transformers' TrainingArguments: an evaluation strategy, and the metric (default: the loss).
  if (o->eval_strategy == "no")
    throw FlagError("--lr_scheduler_type reduce_lr_on_plateau lowers the rate after evaluations during training: "
                    "give --eval_strategy steps or epoch (as transformers requires)");
  const std::string metric = best_metric_name(*o);
  if (metric.empty())
    throw FlagError("--lr_scheduler_type reduce_lr_on_plateau steps with --metric_for_best_model, whose default in "
                    "transformers is the loss, which run_qa's evaluation does not compute: give "
                    "--metric_for_best_model f1 (or exact_match)");
  if (!o->lr_schedule.args.plateau_max)
    notes->push_back("reduce_lr_on_plateau compares " + metric + " in mode 'min' (torch's default: transformers "
                     "passes no mode), so the rate falls when " + metric + " stops falling; --lr_scheduler_kwargs "
                     "'{\"mode\": \"max\"}' lowers it when " + metric + " stops rising");
}

void apply_hf_trainer_flags(const HfTrainerOptions& o, TrainConfig* tc) {
  // Names checked by check_hf_trainer_flags; "best" saves from the evaluation hook (RunSettings).
  if (!parse_interval_strategy(o.save_strategy, &tc->save_strategy)) tc->save_strategy = IntervalStrategy::kNo;
  parse_interval_strategy(o.eval_strategy, &tc->eval_strategy);
  parse_interval_strategy(o.logging_strategy, &tc->logging_strategy);
  tc->logging_first_step = o.logging_first_step;
  // transformers: an unset eval_steps becomes logging_steps under the steps strategy, and
  // otherwise stays unset (TrainerState then keeps its 500, what trainer_state.json shows).
  tc->eval_steps = o.eval_steps > 0                                ? o.eval_steps
                   : tc->eval_strategy == IntervalStrategy::kSteps ? tc->logging_steps
                                                                   : 500;
  tc->eval_delay = o.eval_delay;
  tc->lr_schedule = o.lr_schedule;
  // Words checked by the flag parser.
  tc->input_token_count = o.include_num_input_tokens_seen == "all"           ? InputTokenCount::kAll
                          : o.include_num_input_tokens_seen == "non_padding" ? InputTokenCount::kNonPadding
                                                                             : InputTokenCount::kNo;
}

CudaBackendOptions cuda_options_for(const PrecisionFlags& flags, std::vector<std::string>* notes) {
  if (flags.fp16) throw FlagError("--fp16: fp16 mixed precision is not implemented by this engine");
  CudaBackendOptions options = cuda_backend_options_from_env();
  if (flags.bf16_given) {
    if (options.fp32_compute == flags.bf16 && std::getenv("BERT_CUDA_COMPUTE") != nullptr)
      notes->push_back(std::string("--bf16 ") + (flags.bf16 ? "true" : "false") + " overrides BERT_CUDA_COMPUTE=" +
                       std::getenv("BERT_CUDA_COMPUTE"));
    options.fp32_compute = !flags.bf16;
  }
  return options;
}

std::vector<std::string> precision_notes(const std::string& backend_name, const PrecisionFlags& flags) {
  std::vector<std::string> notes;
  if (backend_name == "cpu" || backend_name == "cpu-double") {
    notes.push_back(
        std::string("the CPU backend computes in ") + (backend_name == "cpu" ? "fp32" : "fp64") +
        " (activations, GEMMs, weights and Adam moments)" +
        // A value at its default gets no word, as the passive flags' (a rerun from
        // training_args.json gives every flag, --bf16 true and --tf32 false among them).
        ((flags.bf16_given && !flags.bf16) || (flags.tf32_given && flags.tf32)
             ? "; --bf16 and --tf32 apply to CUDA only and change nothing here"
             : ""));
    return notes;
  }
  const bool fp32 = backend_name == "cuda-fp32";
  if (fp32) {
    notes.push_back(std::string("CUDA: fp32 compute (") +
                    (flags.bf16_given ? "--bf16 false" : "BERT_CUDA_COMPUTE=fp32") +
                    "): fp32 activations and GEMMs, fp32 master weights and Adam moments");
    if (flags.tf32_given)
      notes.push_back(flags.tf32 ? "--tf32 true is not implemented: the fp32 GEMMs stay full fp32 (cuBLAS "
                                   "CUBLAS_COMPUTE_32F without TF32), exact but slower than TF32"
                                 : "--tf32 false: the fp32 GEMMs run in full fp32 (no TF32), as always here");
  } else {
    notes.push_back(std::string("CUDA: bf16 compute (") + (flags.bf16_given ? "--bf16" : "the default") +
                    "): bf16 activations and GEMM operands with fp32 accumulation, fp32 LayerNorm/softmax "
                    "statistics, loss, master weights and Adam moments");
    if (flags.tf32_given)
      notes.push_back(std::string("--tf32 ") + (flags.tf32 ? "true" : "false") +
                      " changes nothing under bf16 compute: TF32 concerns fp32 GEMMs, and these are bf16");
  }
  return notes;
}

// transformers 5.25's INTEGRATION_TO_CALLBACK names: a typo of one is refused as Trainer
// refuses it, rather than turning reporting off.
constexpr const char* kHfIntegrations[] = {
    "azure_ml",   "comet_ml", "mlflow",  "neptune", "tensorboard", "trackio", "wandb",
    "codecarbon", "clearml",  "dagshub", "flyte",   "dvclive",     "swanlab", "kubeflow"};

ReportTo parse_report_to(const std::string& value) {
  std::string spaced = value;
  for (char& c : spaced)
    if (c == ',') c = ' ';
  std::istringstream words(spaced);
  std::vector<std::string> names;
  for (std::string name; words >> name;) names.push_back(name);
  if (names.empty()) throw FlagError("--report_to: expected all, none, tensorboard or a list of integrations");
  ReportTo out;
  out.tensorboard = false;
  for (const std::string& name : names) {
    if (name == "none") {
      if (names.size() > 1) throw FlagError("--report_to: 'none' cannot be combined with other integrations");
    } else if (name == "all" || name == "tensorboard") {
      out.tensorboard = true;
    } else if (name == "kubeflow") {
      // Reported when the environment asks for it, named here or not (TrainingArguments adds it).
      if (!kubeflow_endpoint_from_env())
        throw FlagError(
            "--report_to kubeflow: no Kubeflow Trainer endpoint, which transformers' "
            "KubeflowCallback requires: KUBEFLOW_TRAINER_SERVER_URL is not set (Kubeflow Trainer "
            "sets it in a TrainJob with its runtime status enabled) or "
            "DISABLE_KUBEFLOW_INTEGRATION is TRUE");
    } else if (std::find(std::begin(kHfIntegrations), std::end(kHfIntegrations), name) !=
               std::end(kHfIntegrations)) {
      out.notes.push_back(
          "--report_to " + name + ": this engine has no " + name +
          " integration; nothing is reported to it (it writes trainer_log.jsonl, and "
          "TensorBoard files with --report_to tensorboard)");
    } else {  // as get_reporting_integration_callbacks refuses it
      std::string known;
      for (const char* integration : kHfIntegrations)
        known += std::string(known.empty() ? "" : ", ") + integration;
      throw FlagError("--report_to: " + name + " is not supported, only " + known +
                      " are supported (or all, none)");
    }
  }
  return out;
}

}  // namespace bert
