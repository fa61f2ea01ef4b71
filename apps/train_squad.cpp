// train_squad: fine-tunes a BERT checkpoint (Hugging Face directory) on SQuAD and evaluates it,
// with run_qa.py's flag names. Example:
//   train_squad --model_name_or_path bert-base-uncased/ --train_file train-v1.1.json
//     --validation_file dev-v1.1.json --do_train --do_eval --per_device_train_batch_size 32
//     --learning_rate 3e-5 --num_train_epochs 2 --output_dir out/
//
// This file parses and checks the flags and drives the run; apps/train_job.h runs the job once
// its backend exists, and what happens in output_dir
// (resuming, the output-directory policy, logs, checkpoints, results files) is
// engine/training_run.h's. Checkpoints (output_dir/checkpoint-N every --save_steps) carry the
// full training state (engine/training_state.h) and a checksum of every file, verified on resume. As Hugging
// Face's run_qa.py does, a --do_train run whose output_dir already holds checkpoints resumes
// from the newest one unless --overwrite_output_dir is given, and an output_dir holding
// anything else (an earlier run's model and results, someone else's files) is refused
// without it; --overwrite_output_dir deletes only what train_squad wrote (engine/output_dir.h).
// A lock file keeps a second run out of an output_dir in use. --resume_from_checkpoint
// PATH|latest names a checkpoint. The resumed run is bit-identical to an uninterrupted one, and
// trainer_log.jsonl keeps only the lines up to the step training starts from.
//
// Data parallelism: `mpirun -np N train_squad ...` trains on N processes (CPU: MPI all-reduce;
// CUDA: NCCL, one GPU per process chosen by the local rank). --per_device_train_batch_size is
// per process, so the global batch is N times it; the data order, dropout masks and global
// batches are those of one process with the global batch (engine/data_parallel.h). Rank 0
// alone writes output_dir (logs, checkpoints, the model) and evaluates. An error on any rank
// ends every rank (naming it); a stalled collective ends the job after --ddp_timeout seconds.
// Open MPI refuses to run as root without --allow-run-as-root (containers, CI).
//
// Outputs with run_qa.py's names (engine/hf_outputs.h): training_args.json (every flag's value:
// rerun with `train_squad output_dir/training_args.json`), train_results.json, eval_results.json,
// all_results.json, trainer_state.json (log_history), eval_predictions.json,
// eval_nbest_predictions.json; TensorBoard runs in --logging_dir (default runs/<date>_<host>).
//
// Exit status: 0 success (also after --stop_after_steps), 1 an error (bad file, ...), 2 a bad
// command line, 3 training diverged (--max_consecutive_nonfinite steps in a row with a
// non-finite loss or gradient norm; nothing new saved), 130 / 143 stopped by SIGINT / SIGTERM
// (128 + the signal number) after saving a checkpoint.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>

#include "apps/app_main.h"
#include "apps/dataset_location.h"
#include "apps/flag_checks.h"
#include "apps/flags.h"
#include "apps/hf_passive_flags.h"
#include "apps/hf_trainer_flags.h"
#include "apps/model_location.h"
#include "apps/train_job.h"
#include "apps/train_options.h"
#include "comm/communicator.h"
#include "comm/rank_agreement.h"  // RanksDisagree
#include "core/error.h"
#include "core/file_io.h"
#include "core/json_text.h"  // format_json_number
#include "engine/backend_registry.h"
#include "engine/batch_stream.h"  // train_sampling_name
#include "engine/bert_qa_model.h"  // check_backend_runs_model, describe_memory_shortfall
#include "engine/trainer.h"        // TrainingDiverged
#include "engine/training_run.h"   // names_newest_checkpoint
#include "io/bert_config.h"
#include "io/tokenizer_config.h"

#ifdef BERT_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace bert {
namespace {

// Exit statuses: 1 error and 2 bad command line (apps/app_main.h), 3 diverged, 130/143 signals.
constexpr int kExitDiverged = 3;

void register_flags(FlagParser* p, TrainOptions* o) {
  p->add_string(
      "model_name_or_path", &o->model_name_or_path,
      "model directory: config.json + vocab.txt (or tokenizer.json) or a SentencePiece model (+ "
      "model.safetensors, pytorch_model.bin or a sharded index; with none, the weights are "
      "initialised randomly)");
  p->add_string("train_file", &o->train_file,
                "SQuAD to train on (with --do_train): the official JSON, datasets' rows (JSON, JSON Lines) or a "
                "datasets Arrow cache file");
  p->add_string("validation_file", &o->validation_file, "SQuAD to evaluate on (with --do_eval), in the same formats");
  p->add_string("test_file", &o->test_file,
                "SQuAD to predict on (with --do_predict), in the same formats; scored too when "
                "every question has "
                "answers (with --version_2_with_negative, always: its unanswerable questions are "
                "scored as such)");
  p->add_string("output_dir", &o->output_dir, "where the model, checkpoints, logs and predictions go");
  p->add_string(
      "train_cache_file", &o->train_cache_file,
      "binary window cache for the training set: read when it matches; rebuilt when stale, "
      "damaged or empty; a file that is no window cache is refused, never overwritten");
  p->add_string("device", &o->device, "auto, cpu or cuda");
  p->add_int("max_seq_length", &o->max_seq_length, "tokens per window, question + context + 3 specials");
  p->add_int("doc_stride", &o->doc_stride, "tokens of overlap between consecutive windows of a context");
  p->add_int("per_device_train_batch_size", &o->per_device_train_batch_size, "windows per training micro-batch");
  p->add_int("per_device_eval_batch_size", &o->per_device_eval_batch_size, "windows per evaluation batch");
  p->add_double("learning_rate", &o->learning_rate, "peak AdamW learning rate");
  p->add_double("num_train_epochs", &o->num_train_epochs, "epochs over the training windows");
  p->add_int64("max_steps", &o->max_steps, "optimizer steps; > 0 overrides num_train_epochs");
  p->add_double("warmup_ratio", &o->warmup_ratio, "fraction of the steps with linear warmup");
  p->add_double("warmup_steps", &o->warmup_steps_given,
                "warmup steps: N >= 1 warms up for N steps (an integer part), a number in (0, 1) for that "
                "fraction of the steps as transformers 5 reads it (--warmup_ratio's meaning); > 0 overrides "
                "--warmup_ratio");
  p->add_double("weight_decay", &o->weight_decay, "AdamW weight decay (not on biases and LayerNorm)");
  p->add_double("max_grad_norm", &o->max_grad_norm, "global gradient-norm clipping; <= 0 disables");
  p->add_double("adam_beta1", &o->adam_beta1, "AdamW beta1");
  p->add_double("adam_beta2", &o->adam_beta2, "AdamW beta2");
  p->add_double("adam_epsilon", &o->adam_epsilon, "AdamW epsilon");
  p->add_int("gradient_accumulation_steps", &o->gradient_accumulation_steps, "micro-batches per optimizer step");
  p->add_int64("seed", &o->seed, "seed for initialisation, dropout and (without --data_seed) the data order");
  p->add_int64("data_seed", &o->data_seed,
               "seed of the epochs' order alone, as transformers' --data_seed (negative, the default: --seed "
               "orders the data too)");
  p->add_double("logging_steps", &o->logging_steps,
                "log every N optimizer steps; a number below 1: that fraction of the run's steps, rounded up "
                "(as transformers)");
  p->add_double(
      "save_steps", &o->save_steps,
      "save output_dir/checkpoint-N (model + full training state) every N steps and after the "
      "last; a number below 1: that fraction of the run's steps, rounded up; <= 0 never "
      "(transformers still saves the last step then: its --save_strategy no saves none, as here)");
  p->add_int64("save_total_limit", &o->save_total_limit,
               "keep only the newest N checkpoints (older ones are deleted once a new one is complete); "
               "<= 0 keeps all");
  p->add_string("resume_from_checkpoint", &o->resume_from_checkpoint,
                "continue training from this checkpoint directory, or from output_dir's newest with "
                "'latest' (or 'true'); without it, output_dir's newest checkpoint is resumed anyway "
                "unless --overwrite_output_dir");
  p->add_bool("overwrite_output_dir", &o->overwrite_output_dir,
              "start training afresh in an output_dir that is not empty: delete what train_squad wrote there "
              "(checkpoints, model, results, logs) first, keeping everything else; without it such an "
              "output_dir is refused, unless it holds an interrupted run's checkpoints, which are resumed");
  p->add_int64("max_consecutive_nonfinite", &o->max_consecutive_nonfinite,
               "stop (exit 3) after N optimizer steps in a row with a non-finite loss or gradient norm "
               "(each is skipped); <= 0 never stops");
  p->add_int64("stop_after_steps", &o->stop_after_steps,
               "save a checkpoint and stop (exit 0) after global step N, keeping the schedule of the "
               "whole run (for time-sliced jobs; continue with --resume_from_checkpoint)");
  p->add_int64("max_train_samples", &o->max_train_samples, "use the first N questions (and at most N windows)");
  p->add_int64("max_eval_samples", &o->max_eval_samples, "evaluate the first N questions (at most N windows)");
  p->add_int64("max_predict_samples", &o->max_predict_samples, "predict the first N questions (at most N windows)");
  p->add_int("n_best_size", &o->n_best_size, "start/end candidates per window in span selection");
  p->add_int("max_answer_length", &o->max_answer_length, "longest answer in tokens");
  p->add_bool("do_train", &o->do_train, "fine-tune on --train_file");
  p->add_bool("do_eval", &o->do_eval, "evaluate on --validation_file");
  p->add_bool("do_predict", &o->do_predict,
              "after training and evaluation, predict on --test_file as run_qa.py does: "
              "predict_predictions.json, predict_nbest_predictions.json, predict_results.json");
  p->add_bool("do_lower_case", &o->do_lower_case,
              "lower-case and strip accents (uncased models); when not given, the model directory's "
              "tokenizer_config.json decides, else true");
  p->add_bool("group_by_length", &o->group_by_length,
              "as Hugging Face's Trainer: each epoch's shuffled windows in megabatches of 50 batches sorted by "
              "length, so a batch holds windows of similar length (only the order changes: batches are packed "
              "without padding either way; transformers 5: --train_sampling_strategy group_by_length)");
  p->add_bool("dataloader_drop_last", &o->dataloader_drop_last,
              "leave out each epoch's short last batch (of per-device batch x ranks windows), as transformers");
  register_hf_trainer_flags(p, &o->hf);
  register_hf_passive_flags(p, &o->passive);
  p->add_renamed("per_gpu_train_batch_size", "per_device_train_batch_size", "transformers' name for it");
  p->add_renamed("per_gpu_eval_batch_size", "per_device_eval_batch_size", "transformers' name for it");
  p->add_double("ddp_timeout", &o->ddp_timeout,
                "seconds a collective may take before a data-parallel run (mpirun) ends with an error "
                "naming the rank; <= 0 waits forever");
}

// --warmup_steps as transformers 5 reads it: N >= 1 is N steps (int(N)), a number in (0, 1) the
// fraction of the total steps (ceil), which transformers 4 called --warmup_ratio.
void resolve_warmup_steps(const FlagParser& parser, TrainOptions* o) {
  const double given = o->warmup_steps_given;
  if (parser.was_set("warmup_ratio") && !parser.was_set("warmup_steps"))
    o->notes.push_back("--warmup_ratio is transformers 4's flag (transformers 5 removed it): taken as such; "
                       "transformers 5 spells it --warmup_steps " +
                       format_json_number(o->warmup_ratio, NonFiniteJson::kPythonNames) + " (below 1: a ratio)");
  if (!(given >= 0) || given > 4e18)
    throw FlagError("--warmup_steps: expected a number of steps >= 0 (or a ratio in (0, 1)), got " +
                    format_json_number(given, NonFiniteJson::kPythonNames));
  if (given >= 1) {
    o->warmup_steps = static_cast<int64_t>(given);
    return;
  }
  o->warmup_steps = 0;
  if (given == 0) return;
  if (parser.was_set("warmup_ratio") && o->warmup_ratio != given)
    throw FlagError("--warmup_steps " + format_json_number(given, NonFiniteJson::kPythonNames) +
                    " (below 1: a ratio of the total steps, as transformers 5 reads it) and --warmup_ratio " +
                    format_json_number(o->warmup_ratio, NonFiniteJson::kPythonNames) + " disagree: give one");
  o->warmup_ratio = given;
  o->notes.push_back("--warmup_steps " + format_json_number(given, NonFiniteJson::kPythonNames) +
                     " is below 1: warmup for that fraction of the total steps (transformers 5; --warmup_ratio " +
                     "in transformers 4)");
}

// Every flag's range, before any work: a bad value exits 2 naming the flag.
void check_options(const TrainOptions& o, const FlagParser& parser) {
  parser.require("model_name_or_path");
  if (!o.do_train && !o.do_eval && !o.do_predict)
    throw FlagError("nothing to do: give --do_train, --do_eval and/or --do_predict");
  check_hf_trainer_flags(o.hf, o.do_train, o.model_name_or_path);
  // With --dataset_name the splits come from the datasets cache (resolve_dataset_name).
  const bool files = o.hf.dataset.name.empty();
  if (o.do_train && files) parser.require("train_file", "with --do_train (or --dataset_name)");
  if (o.do_eval && files) parser.require("validation_file", "with --do_eval (or --dataset_name)");
  if (o.hf.eval_on_start && (!o.do_eval || !o.do_train))
    throw FlagError("--eval_on_start evaluates before training: it needs --do_train and --do_eval");
  if (o.do_predict && files) parser.require("test_file", "with --do_predict (or --dataset_name)");
  // run_qa's load_dataset reads every data file given (without --dataset_name), whether its
  // stage runs or not: a path that is not a file fails there, and here before any work.
  for (const auto& [flag, path, used] :
       {std::tuple<const char*, const std::string&, bool>{"train_file", o.train_file, o.do_train},
        {"validation_file", o.validation_file, o.do_eval},
        {"test_file", o.test_file, o.do_predict}}) {
    std::error_code error;
    if (files && !used && !path.empty() && !std::filesystem::is_regular_file(path, error))
      throw FlagError(std::string("--") + flag + " " + path +
                      (error && error != std::errc::no_such_file_or_directory
                           ? ": " + error.message()
                       : std::filesystem::exists(path, error) ? ": not a file"
                                                              : ": no such file") +
                      " (run_qa.py loads every data file given, whether its stage runs or not; fix "
                      "the path or leave the flag out)");
  }
  check_device_flag(o.device);
  check_window_flags(o.max_seq_length, o.doc_stride);
  check_batch_flag("per_device_train_batch_size", o.per_device_train_batch_size, o.max_seq_length);
  check_batch_flag("per_device_eval_batch_size", o.per_device_eval_batch_size, o.max_seq_length);
  check_flag_positive("gradient_accumulation_steps", o.gradient_accumulation_steps);
  // As transformers: logging_steps must be > 0 only for the steps strategy, and the steps
  // evaluation strategy needs an interval from --eval_steps or --logging_steps.
  check_interval_flag("logging_steps", o.logging_steps,
                      /*positive=*/o.hf.logging_strategy == "steps");
  if (o.hf.eval_strategy == "steps" && !(o.hf.eval_steps > 0) && !(o.logging_steps > 0))
    throw FlagError("--eval_strategy steps requires a non-zero --eval_steps or --logging_steps");
  check_interval_flag("save_steps", o.save_steps, /*positive=*/false);
  check_interval_flag("eval_steps", o.hf.eval_steps, /*positive=*/false);
  check_best_model_flags(o.hf, o.save_steps, o.logging_steps);
  check_span_flags(o.n_best_size, o.max_answer_length);
  check_flag_sample_limit("max_train_samples", o.max_train_samples);
  check_flag_sample_limit("max_eval_samples", o.max_eval_samples);
  check_flag_sample_limit("max_predict_samples", o.max_predict_samples);
  // PyTorch's AdamW refuses lr < 0, betas outside [0, 1) and weight decay < 0; eps = 0, which
  // it accepts, divides 0 by 0 for a parameter whose gradient and moments are all 0.
  check_flag_non_negative("learning_rate", o.learning_rate);
  check_flag_non_negative("weight_decay", o.weight_decay);
  check_flag_half_open("adam_beta1", o.adam_beta1, 0.0, 1.0);
  check_flag_half_open("adam_beta2", o.adam_beta2, 0.0, 1.0);
  if (!(o.adam_epsilon > 0))
    throw FlagError("--adam_epsilon: expected a number > 0 (with 0 a parameter whose gradient and moments are 0 "
                    "gets 0/0 = NaN), got " + std::to_string(o.adam_epsilon));
  if (o.warmup_ratio < 0 || o.warmup_ratio > 1)
    throw FlagError("--warmup_ratio: expected a number in [0, 1], got " + std::to_string(o.warmup_ratio));
  parse_report_to(o.hf.report_to);  // its notes are logged later; a bad list exits 2 now
  if (o.max_steps <= 0 && !(o.num_train_epochs > 0))
    throw FlagError("--num_train_epochs must be positive when --max_steps is not given");
  if (o.num_train_epochs > kMaxTrainEpochs)
    throw FlagError("--num_train_epochs: expected at most " + std::to_string(int64_t(kMaxTrainEpochs)) +
                    " (the optimizer step count must fit 64 bits), got " + std::to_string(o.num_train_epochs));
  if (!o.resume_from_checkpoint.empty() && !o.do_train)
    throw FlagError("--resume_from_checkpoint needs --do_train");
  if (!o.resume_from_checkpoint.empty() && o.overwrite_output_dir)
    throw FlagError("--resume_from_checkpoint and --overwrite_output_dir contradict each other: give one");
  const std::string& resume = o.resume_from_checkpoint;
  // As Hugging Face's Trainer refuses it ("Can't find a valid checkpoint at ..."), before any work.
  if (!resume.empty() && !names_newest_checkpoint(resume) && !std::filesystem::is_directory(resume))
    throw FlagError(
        "--resume_from_checkpoint " + resume +
        ": no such checkpoint directory (give a checkpoint-N directory, or True/latest for the "
        "newest in --output_dir)");
  // The window cache is written when it does not match: never over the data it is built from.
  check_distinct_paths("train_cache_file", o.train_cache_file, "train_file", o.train_file,
                       "writing the cache would replace the training data");
  check_distinct_paths("train_cache_file", o.train_cache_file, "validation_file", o.validation_file,
                       "writing the cache would replace the evaluation data");
  check_distinct_paths("train_cache_file", o.train_cache_file, "test_file", o.test_file,
                       "writing the cache would replace the test data");
  if (o.do_train) {
    check_distinct_paths("output_dir", o.output_dir, "model_name_or_path", o.model_name_or_path,
                         "training would overwrite the pretrained model; give another --output_dir");
    std::error_code ec;
    const std::string out = std::filesystem::weakly_canonical(o.output_dir, ec).string() + "/";
    const std::string model = std::filesystem::weakly_canonical(o.model_name_or_path, ec).string() + "/";
    if (o.overwrite_output_dir && !ec && model.compare(0, out.size(), out) == 0)
      throw FlagError("--model_name_or_path " + o.model_name_or_path + " lies inside --output_dir " + o.output_dir +
                      ", which --overwrite_output_dir clears; copy the model elsewhere first");
  }
}

// config.json is read before anything else is loaded, so that a model the device's kernels
// cannot run is refused (exit 1, naming the field) and the flags it bounds exit 2 at once:
// --max_seq_length (max_position_embeddings) and the batch sizes (memory). A missing or bad
// model directory is load_model_dir's to report.
void check_model_limits(const TrainOptions& o, Backend& backend) {
  const std::string path = join_path(o.model_name_or_path, "config.json");
  if (!path_exists(path)) return;
  const BertConfig config = read_bert_config(path);
  check_backend_runs_model(backend, config, path);
  check_max_seq_length_fits(o.max_seq_length, config.max_position_embeddings, path);
  const bool train_batch =
      o.do_train && (!runs_evaluation(o) || o.per_device_train_batch_size >= o.per_device_eval_batch_size);
  const int max_batch = train_batch ? o.per_device_train_batch_size : o.per_device_eval_batch_size;
  bool batch_to_blame = false;
  const std::string shortfall = describe_memory_shortfall(backend, config, int64_t(max_batch) * o.max_seq_length,
                                                          max_batch, o.do_train, &batch_to_blame);
  if (shortfall.empty()) {
    const std::string space = describe_address_space_shortfall(
        backend, config, int64_t(max_batch) * o.max_seq_length, max_batch, o.do_train,
        /*weights_loaded=*/false);
    if (!space.empty()) throw BertError("this run " + space);
    return;
  }
  if (batch_to_blame)
    throw FlagError(std::string("--") + (train_batch ? "per_device_train_batch_size " : "per_device_eval_batch_size ") +
                    std::to_string(max_batch) + " at --max_seq_length " + std::to_string(o.max_seq_length) + ": " +
                    shortfall + "; give a smaller batch" + (train_batch ? " (and --gradient_accumulation_steps)" : ""));
  throw_input_error(path, largest_size_field(config), "the model " + shortfall);
}

// Selects this process's GPU from the launcher's local rank before the CUDA backend exists
// (mpirun: one GPU per process; its buffers and stream belong to the device current then).
void select_device_for_rank(const TrainOptions& o) {
  if (o.device == "cpu" || o.device == "cpu-double" || !launched_by_mpi()) return;
#ifdef BERT_HAVE_NCCL
  select_local_cuda_device();
#endif
}

std::unique_ptr<Communicator> make_job_communicator(const TrainOptions& o, Backend& backend) {
  CommOptions options;
  options.timeout_seconds = o.ddp_timeout;
  void* stream = backend.native_stream();
  return make_communicator(options, stream != nullptr ? CommDevice::kCuda : CommDevice::kHost, stream);
}


int run(int argc, char** argv) {
  TrainOptions o;
  FlagParser parser("train_squad", "Fine-tunes BERT for extractive question answering on SQuAD "
                                   "(flags follow Hugging Face run_qa.py).");
  register_flags(&parser, &o);
  if (!parser.parse(argc, argv)) {
    // --help. A rank that ends with status 0 before joining the others can leave them waiting in
    // MPI_Init for good (Open MPI notices it only sometimes); a non-zero status always ends the
    // job.
    if (const int ranks = launcher_world_size(); ranks != 1)  // -1: a PMIx launch of unknown size
      throw FlagError("--help given to a rank of an MPI launch" +
                      (ranks > 1 ? " of " + std::to_string(ranks) + " processes" : std::string()) +
                      ": run train_squad --help without mpirun");
    return 0;
  }
  o.notes = parser.notes();
  if (!parser.was_set("output_dir"))
    o.notes.push_back("no --output_dir: writing to " + o.output_dir +
                      " (transformers 5's default)");
  resolve_hf_trainer_flags(parser, &o.hf, HfResolvedFlags{&o.do_eval, o.group_by_length, &o.sampling, &o.device}, &o.notes);
  resolve_warmup_steps(parser, &o);
  resolve_hf_passive_flags(parser, o.passive, &o.notes);
  check_options(o, parser);
  resolve_lr_schedule(&o.hf, o.learning_rate, &o.notes);
  resolve_dataset_name(o.hf.dataset, o.hf.cache_dir,
                       {{&o.train_file, "train_file", "train", o.do_train},
                        {&o.validation_file, "validation_file", "validation", o.do_eval},
                        {&o.test_file, "test_file", "test", o.do_predict}},
                       &o.notes);
  // A Hub id is read from the Hugging Face cache, as from_pretrained does offline.
  o.model_name = o.model_name_or_path;
  o.model_name_or_path = resolve_model_location(o.model_name, o.hf.model_revision, o.hf.cache_dir, &o.notes);
  const bool may_use_cuda = o.device == "cuda" || o.device == "auto";
  const CudaBackendOptions cuda_options = may_use_cuda ? cuda_options_for(o.hf.precision, &o.notes) : CudaBackendOptions{};
  // The two schedules transformers builds without num_warmup_steps.
  const bool constant = o.hf.lr_schedule.type == LrSchedule::kConstant;
  if ((constant || o.hf.lr_schedule.type == LrSchedule::kReduceLrOnPlateau) && (o.warmup_steps > 0 || o.warmup_ratio > 0))
    o.notes.push_back("--lr_scheduler_type " + o.hf.lr_scheduler_type + " ignores --warmup_steps/--warmup_ratio " +
                      (constant ? "(transformers' get_constant_schedule); constant_with_warmup warms up"
                                : "(transformers' get_reduce_on_plateau_schedule has no warmup)"));
  const TokenizerChoice tokenizer_choice =
      read_tokenizer_config(o.model_name_or_path, parser.was_set("do_lower_case"), o.do_lower_case);
  o.do_lower_case = tokenizer_choice.do_lower_case;
  o.keep_accents = tokenizer_choice.keep_accents;
  o.model_max_length = tokenizer_choice.model_max_length;
  o.do_lower_case_note = tokenizer_choice.note;
  const std::string clamped = clamp_max_seq_length(
      tokenizer_choice.model_max_length, join_path(o.model_name_or_path, "tokenizer_config.json"), &o.max_seq_length);
  if (!clamped.empty()) o.notes.push_back(clamped);
  // The order as resolved, in both of its flags: a record with --group_by_length true beside
  // the default --train_sampling_strategy random would contradict itself when rerun.
  o.group_by_length = o.sampling == TrainSampling::kGroupByLength;
  o.hf.train_sampling_strategy = train_sampling_name(o.sampling);
  o.args_record = parser.values_json();  // after the derived values above
  o.flag_value_follows = parser.value_rule();
  select_device_for_rank(o);
  const std::unique_ptr<Backend> backend = make_backend(o.device, cuda_options);
  check_model_limits(o, *backend);
  const std::unique_ptr<Communicator> comm = make_job_communicator(o, *backend);
  if (comm->world_size() == 1) return run_train_job(o, *backend, *comm, argc, argv);
  try {
    return run_train_job(o, *backend, *comm, argc, argv);
  } catch (const TrainingDiverged&) {
    throw;  // every rank reads the same reduced numbers and stops at the same step
  } catch (const FlagError&) {
    throw;  // the same command line on every rank (or a difference all ranks found): each exits 2
  } catch (const RanksDisagree&) {
    throw;  // found alike on every rank: each exits 1
  } catch (const std::exception& e) {
    // The other ranks may be inside a collective: end them all, naming this rank.
    comm->abort(std::string("error: ") + e.what());
  }
  return 1;  // not reached: abort ends every rank
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) {
  // Divergence has its own exit status; everything else is run_app's 1 / 2.
  return bert::run_app(
      [](int app_argc, char** app_argv) {
        try {
          return bert::run(app_argc, app_argv);
        } catch (const bert::TrainingDiverged& e) {
          std::fprintf(stderr, "%serror: %s\n", bert::launcher_rank_prefix().c_str(), e.what());
          return bert::kExitDiverged;
        }
      },
      argc, argv);
}
