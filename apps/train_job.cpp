#include "apps/train_job.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/flags.h"  // FlagError
#include "apps/model_location.h"  // untrained_model_warning
#include "comm/communicator.h"
#include "comm/rank_agreement.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/host_cores.h"
#include "core/strings.h"
#include "data/predictions_io.h"  // scores_to_json
#include "data/prepared_squad.h"
#include "data/squad_metric.h"     // require_scorable, first_unscorable
#include "data/squad_metric_v2.h"  // squad_v2_gives_score
#include "data/window_cache.h"     // tokenizer_fingerprint
#include "engine/backend.h"
#include "engine/bert_qa_model.h"
#include "engine/data_parallel.h"  // broadcast_parameters, broadcast_text
#include "engine/model_card.h"
#include "engine/trainer.h"
#include "engine/training_run.h"
#include "engine/training_state.h"
#include "io/bert_config.h"
#include "io/model_dir.h"
#include "kernels/dropout_rng.h"  // attention_drop_rate
#include "logging/crc32c.h"
#include "logging/tensorboard_writer.h"
#include "tokenizer/tokenizer.h"

namespace bert {
namespace {

// The scores on stdout as one JSON line, keys with `prefix` ("" as the official script prints
// them after --do_eval, "test_" as predict_results.json names them after --do_predict).
void print_scores(const std::string& prefix, const SquadScores& scores) {
  std::printf("%s\n", scores_to_json(scores, prefix).c_str());
}

TrainConfig make_train_config(const TrainOptions& o) {
  TrainConfig tc;
  tc.batch_size = o.per_device_train_batch_size;
  tc.gradient_accumulation_steps = o.gradient_accumulation_steps;
  tc.num_train_epochs = o.num_train_epochs;
  tc.max_steps = o.max_steps;
  tc.warmup_ratio = o.warmup_ratio;
  tc.warmup_steps = o.warmup_steps;
  tc.seed = static_cast<uint64_t>(o.seed);
  tc.data_seed = data_seed_of(o);
  tc.logging_steps = o.logging_steps;
  tc.save_steps = o.save_steps;
  tc.max_consecutive_nonfinite = o.max_consecutive_nonfinite;
  tc.sampling = o.sampling;
  tc.dataloader_drop_last = o.dataloader_drop_last;
  tc.hf_padded_length = o.hf.pad_to_max_length ? o.max_seq_length : 0;
  tc.stop_after_steps = o.stop_after_steps;
  // A diagnostic switch, like the kernels' BERT_* variables: it changes no result.
  tc.profile_step = environment_positive_count("BERT_PROFILE_STEP");
  apply_hf_trainer_flags(o.hf, &tc);
  tc.optimizer = OptimizerConfig{o.learning_rate, o.adam_beta1, o.adam_beta2, o.adam_epsilon, o.weight_decay,
                                 o.max_grad_norm};
  // A candidate being measured (issue 13), switched like the kernels' BERT_* variables: it
  // changes when the update runs, not what it computes.
  tc.optimizer.update_beside_forward =
      environment_choice("BERT_ADAMW_BESIDE_FORWARD", {"0", "1"}) == 1;
  return tc;
}

std::string hex64(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// What a rank would resume from: the path alone does not tell, as ranks on other machines may
// see another copy under it (node-local or stale storage). checksums.json holds the size and
// CRC32C of every file of the checkpoint, so its own CRC32C fingerprints the whole checkpoint.
std::string checkpoint_fingerprint(const std::string& dir) {
  if (dir.empty()) return "(none)";
  const std::string checksums = join_path(dir, kChecksumsFile);
  if (!path_exists(checksums)) return dir + " (no " + std::string(kChecksumsFile) + ")";
  const std::string text = read_file(checksums);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", crc32c(text.data(), text.size()));
  return std::string(kChecksumsFile) + " crc32c " + crc;
}

std::string exact(double value) {
  char text[40];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// What must be the same on every rank of a data-parallel run before its data is read: the
// flags that shape training or the order of the collectives, config.json and the vocabulary.
std::vector<AgreementField> settings_fields(const TrainOptions& o, const BertConfig& c, const Tokenizer& tokenizer,
                                            const std::string& resume_dir) {
  auto flag = [](const char* name, const std::string& value) { return AgreementField{std::string("--") + name, value}; };
  auto field = [](const char* name, const std::string& value) {
    return AgreementField{std::string("config.json ") + name, value};
  };
  return {flag("do_train", std::to_string(o.do_train)),
          flag("do_eval", std::to_string(o.do_eval)),
          flag("do_predict", std::to_string(o.do_predict)),
          flag("device", o.device),
          flag("output_dir", o.output_dir),
          flag("per_device_train_batch_size", std::to_string(o.per_device_train_batch_size)),
          flag("gradient_accumulation_steps", std::to_string(o.gradient_accumulation_steps)),
          flag("learning_rate", exact(o.learning_rate)),
          flag("num_train_epochs", exact(o.num_train_epochs)),
          flag("max_steps", std::to_string(o.max_steps)),
          flag("warmup_ratio", exact(o.warmup_ratio)),
          flag("warmup_steps", std::to_string(o.warmup_steps)),
          flag("weight_decay", exact(o.weight_decay)),
          flag("max_grad_norm", exact(o.max_grad_norm)),
          flag("adam_beta1", exact(o.adam_beta1)),
          flag("adam_beta2", exact(o.adam_beta2)),
          flag("adam_epsilon", exact(o.adam_epsilon)),
          flag("seed", std::to_string(o.seed)),
          flag("data_seed", std::to_string(data_seed_of(o))),
          flag("max_seq_length", std::to_string(o.max_seq_length)),
          flag("doc_stride", std::to_string(o.doc_stride)),
          flag("do_lower_case", std::to_string(o.do_lower_case)),
          flag("max_train_samples", std::to_string(o.max_train_samples)),
          flag("version_2_with_negative", std::to_string(o.hf.version_2_with_negative)),
          flag("train_cache_file", o.train_cache_file.empty() ? "(none)" : "(given)"),
          flag("logging_steps", exact(o.logging_steps)),
          flag("save_steps", exact(o.save_steps)),
          flag("stop_after_steps", std::to_string(o.stop_after_steps)),
          flag("max_consecutive_nonfinite", std::to_string(o.max_consecutive_nonfinite)),
          flag("resume_from_checkpoint", resume_dir.empty() ? "(none)" : resume_dir),
          {"the resumed checkpoint's files", checkpoint_fingerprint(resume_dir)},
          // Hugging Face Trainer flags that change the data order, the schedule, when the
          // ranks pause together (evaluation, checkpoints) or the compute precision.
          flag("train_sampling_strategy", train_sampling_name(o.sampling)),
          flag("dataloader_drop_last", std::to_string(o.dataloader_drop_last)),
          flag("lr_scheduler_type", o.hf.lr_scheduler_type),
          flag("lr_scheduler_kwargs", o.hf.lr_schedule.kwargs_json),
          flag("eval_strategy", o.hf.eval_strategy),
          flag("eval_steps", exact(o.hf.eval_steps)),
          flag("eval_delay", exact(o.hf.eval_delay)),
          flag("save_strategy", o.hf.save_strategy),
          flag("bf16", std::to_string(o.hf.precision.bf16)),
          field("vocab_size", std::to_string(c.vocab_size)),
          field("hidden_size", std::to_string(c.hidden_size)),
          field("num_hidden_layers", std::to_string(c.num_hidden_layers)),
          field("num_attention_heads", std::to_string(c.num_attention_heads)),
          field("intermediate_size", std::to_string(c.intermediate_size)),
          field("max_position_embeddings", std::to_string(c.max_position_embeddings)),
          field("type_vocab_size", std::to_string(c.type_vocab_size)),
          field("layer_norm_eps", exact(c.layer_norm_eps)),
          field("hidden_dropout_prob", exact(c.hidden_dropout_prob)),
          field("attention_probs_dropout_prob", exact(c.attention_probs_dropout_prob)),
          field("initializer_range", exact(c.initializer_range)),
          field("hidden_act", c.hidden_act),
          field("pad_token_id", std::to_string(c.pad_token_id)),
          {"the vocabulary", std::to_string(tokenizer.vocab_size()) + " tokens, fingerprint " +
                                 hex64(tokenizer_fingerprint(tokenizer, o.do_lower_case))}};
}

// Compares the fields across ranks; on a difference every rank throws the same error: a bad
// command line (exit 2) for a flag, RanksDisagree (exit 1) for files and data.
void stop_if_ranks_disagree(Communicator& comm, const std::vector<AgreementField>& fields) {
  const std::string difference = find_rank_disagreement(comm, fields);
  if (difference.empty()) return;
  const std::string message = "the " + std::to_string(comm.world_size()) + " ranks disagree on " + difference +
                              ": launch every rank with the same flags, model directory and data";
  if (difference.rfind("--", 0) == 0) throw FlagError(message);
  throw RanksDisagree(message);
}

RunSettings make_run_settings(const TrainOptions& o) {
  RunSettings run;
  run.output_dir = o.output_dir;
  run.do_train = o.do_train;
  run.overwrite_output_dir = o.overwrite_output_dir;
  run.resume_from_checkpoint = o.resume_from_checkpoint;
  run.save_total_limit = o.save_total_limit;
  run.tokenizer = SavedTokenizer{o.do_lower_case, o.keep_accents, o.model_max_length};
  run.eval_batch_size = o.per_device_eval_batch_size;
  run.progress_bar = !o.hf.disable_tqdm;
  run.progress_pace = progress_pace_from_env();
  run.metric_for_best_model = best_metric_name(o.hf);
  run.greater_is_better = o.hf.greater_is_better;
  run.load_best_model_at_end = o.hf.load_best_model_at_end;
  run.eval_on_start = o.hf.eval_on_start;
  run.save_only_model = o.hf.save_only_model;
  run.saves_checkpoints = o.hf.save_strategy != "no";
  run.save_on_best = o.hf.save_strategy == "best";
  run.postprocess = PostprocessConfig{o.n_best_size, o.max_answer_length, o.hf.version_2_with_negative,
                                      o.hf.null_score_diff_threshold};
  return run;
}

// Rank 0 claims output_dir (held by the returned lock for the whole run) and prints the flag
// notes; its verdict reaches every rank (output_dir need not be shared): all exit 2 at once
// instead of the others waiting out --ddp_timeout in the next collective. Each says why, since
// mpirun may end rank 0 before its own line is out once another rank has exited.
OutputDirLock claim_output_dir_for_job(const TrainOptions& o, const RunSettings& run, const Backend& backend,
                                       Communicator& comm) {
  const bool root = comm.is_root();
  OutputDirLock lock;
  std::string refusal;
  if (root) lock = claim_output_dir(run, o.args_record, &refusal);
  if (root && refusal.empty()) {
    for (const std::string& note : o.notes) std::fprintf(stderr, "[flags] %s\n", note.c_str());
    for (const std::string& note : precision_notes(backend.name(), o.hf.precision))
      std::fprintf(stderr, "[precision] %s\n", note.c_str());
  }
  refusal = broadcast_text(comm, refusal);
  if (!refusal.empty()) throw FlagError(root ? refusal : refusal + " (refused by rank 0)");
  return lock;
}

// The model directory as the job reads it: config.json, the weights, the vocabulary and its tokenizer.
struct JobModel {
  LoadedModel loaded;
  std::unique_ptr<Tokenizer> tokenizer;
};

JobModel load_job_model(const TrainOptions& o, bool root) {
  JobModel job{load_model_dir(o.model_name_or_path, static_cast<uint64_t>(o.seed)), nullptr};
  if (root)
    for (const std::string& note : job.loaded.notes)
      std::fprintf(stderr, "[model] %s\n", note.c_str());
  if (root) std::fprintf(stderr, "[tokenizer] %s\n", o.do_lower_case_note.c_str());
  const BertConfig& config = job.loaded.config;
  if (o.max_seq_length > config.max_position_embeddings)  // config.json changed since check_model_limits
    throw FlagError("--max_seq_length " + std::to_string(o.max_seq_length) + " exceeds the model's " +
                    "max_position_embeddings " + std::to_string(config.max_position_embeddings));
  job.tokenizer = load_tokenizer(o.model_name_or_path, o.do_lower_case, o.keep_accents);
  check_tokenizer_fits(job.tokenizer->vocab_size(), config, job.loaded.vocab_file);
  return job;
}

// The checkpoint to resume from ("" for a fresh run) and its state, checked before the data is
// prepared, to fail fast.
struct ResumePoint {
  std::string dir;
  TrainerState state;
};

ResumePoint find_resume_point(const TrainOptions& o, const RunSettings& run,
                              const BertConfig& config, bool root) {
  ResumePoint resume;
  if (!o.do_train) return resume;
  resume.dir = resolve_resume_dir(run, /*log=*/root);
  if (resume.dir.empty()) return resume;
  resume.state = read_trainer_state(resume.dir);
  check_checkpoint_config(resume.dir, config, o.model_name_or_path);
  return resume;
}

// The job's data: the training windows on every rank; the evaluation and test sets on rank 0,
// which alone evaluates and predicts.
struct JobData {
  PreparedSquad train, eval, predict;
};

PrepareOptions prepare_options(const TrainOptions& o, bool root) {
  PrepareOptions prepare;
  prepare.window = WindowConfig{o.max_seq_length, o.doc_stride};
  prepare.do_lower_case = o.do_lower_case;
  prepare.quiet = !root;
  prepare.version_2_with_negative = o.hf.version_2_with_negative;
  // Every rank of a node builds the windows at the same time: each takes its share of the cores.
  // build_windows caps the count (window_threads).
  prepare.threads =
      o.hf.preprocessing_num_workers > 0
          ? static_cast<int>(std::min<int64_t>(o.hf.preprocessing_num_workers, INT32_MAX))
          : std::max(1, available_cores() / local_size_from_launcher());
  return prepare;
}

PreparedSquad prepare_train_data(const TrainOptions& o, const Tokenizer& tokenizer, Communicator& comm) {
  const bool root = comm.is_root();
  PrepareOptions prepare = prepare_options(o, root);
  prepare.max_samples = o.max_train_samples;
  prepare.cache_file = o.train_cache_file;
  // Only rank 0 overwrites: the others then read what it wrote (or, on a filesystem of their
  // own, rebuild a cache that is missing or stale), instead of rewriting a shared file again.
  prepare.overwrite_cache = o.hf.overwrite_cache && root;
  if (o.hf.overwrite_cache && o.train_cache_file.empty() && root)
    std::fprintf(stderr, "[train] --overwrite_cache: no --train_cache_file is in use, so the windows are built "
                         "afresh anyway; nothing to overwrite\n");
  // Rank 0 writes the window cache (when it must) before the others read it.
  PreparedSquad train;
  if (root) train = prepare_squad(o.train_file, tokenizer, prepare, "train");
  if (!o.train_cache_file.empty()) comm.barrier();
  if (!root) train = prepare_squad(o.train_file, tokenizer, prepare, "train");
  return train;
}

// Evaluation and test windows are never cached.
PreparedSquad prepare_uncached(const TrainOptions& o, const Tokenizer& tokenizer, const std::string& file,
                               int64_t max_samples, const char* label) {
  PrepareOptions options = prepare_options(o, /*root=*/true);
  options.max_samples = max_samples;
  options.predict_split = std::string(label) == "predict";
  return prepare_squad(file, tokenizer, options, label);
}

PreparedSquad prepare_eval_data(const TrainOptions& o, const Tokenizer& tokenizer) {
  PreparedSquad eval = prepare_uncached(o, tokenizer, o.validation_file, o.max_eval_samples, "eval");
  // Before training, not after it: in v1.1 a question without answers cannot be scored (in
  // v2.0 it is an unanswerable one).
  if (!o.hf.version_2_with_negative)
    require_scorable(eval.dataset, "--do_eval scores the predictions against them; --do_predict with --test_file "
                                   "predicts without answers");
  // squad_v2 leaves out the HasAns_ / NoAns_ scores of a group without questions: a best model
  // ranked by one of them is refused now rather than at the first evaluation.
  const std::string metric = best_metric_name(o.hf);
  if (o.hf.version_2_with_negative && !squad_v2_gives_score(eval.dataset, metric))
    throw FlagError("--metric_for_best_model " + o.hf.metric_for_best_model + ": " + o.validation_file +
                    " has no " + (starts_with(metric, "HasAns_") ? "answerable" : "unanswerable") +
                    " questions, so SQuAD v2.0's metric gives no " + metric.substr(0, metric.find('_') + 1) +
                    " scores");
  return eval;
}

PreparedSquad prepare_predict_data(const TrainOptions& o, const Tokenizer& tokenizer) {
  PreparedSquad predict = prepare_uncached(o, tokenizer, o.test_file, o.max_predict_samples, "predict");
  const SquadExample* unscored = o.hf.version_2_with_negative ? nullptr : first_unscorable(predict.dataset);
  if (unscored != nullptr)
    std::fprintf(stderr,
                 "[predict] question %s of %s has no answers: predictions are written, not scored (no "
                 "test_exact_match / test_f1)\n",
                 unscored->id.c_str(), o.test_file.c_str());
  return predict;
}

JobData prepare_job_data(const TrainOptions& o, const Tokenizer& tokenizer, Communicator& comm) {
  const bool root = comm.is_root();
  JobData data;
  if (o.do_train) data.train = prepare_train_data(o, tokenizer, comm);
  if (o.do_eval && root) data.eval = prepare_eval_data(o, tokenizer);
  if (o.do_predict && root) data.predict = prepare_predict_data(o, tokenizer);
  if (o.do_train)
    stop_if_ranks_disagree(comm, {{"the training windows", std::to_string(data.train.windows.size()) +
                                                               " windows, fingerprint " +
                                                               hex64(windows_fingerprint(data.train.windows))}});
  return data;
}

// Attention dropout compares 8-bit draws (kernels/dropout_rng.h): says what rate that gives.
void announce_attention_dropout(float p) {
  std::fprintf(stderr,
               "[model] attention_probs_dropout_prob %g drops %u/256 = %.4f of the attention probabilities "
               "(8-bit draws) and scales the kept ones by %.6f, so their expectation is unchanged\n",
               p, attention_drop_threshold(p), attention_drop_rate(p), attention_keep_scale(p));
}

// The model on the backend, with room for the larger of the training and evaluation batches,
// holding the loaded weights (which it takes), the same on every rank. *placement_seconds: the
// allocation and the weights' upload on this rank (what a run without training reports as
// <K>_model_preparation_time), the broadcast to the other ranks aside.
std::unique_ptr<BertQaModel> build_job_model(const TrainOptions& o, Backend& backend,
                                             LoadedModel& loaded, Communicator& comm,
                                             double* placement_seconds) {
  const bool root = comm.is_root();
  const int max_batch = std::max(o.do_train ? o.per_device_train_batch_size : 1,
                                 runs_evaluation(o) ? o.per_device_eval_batch_size : 1);
  std::unique_ptr<BertQaModel> model =
      place_bert_qa_model(backend, loaded.config, max_batch * o.max_seq_length, max_batch,
                          loaded.tensors, placement_seconds);
  loaded.tensors.clear();
  broadcast_parameters(*model, comm);  // replicas start bit-identical whatever each rank read
  if (root)
    std::fprintf(stderr, "[model] %zu parameters on %s\n", model->layout().parameter_count(), backend.name().c_str());
  if (root && o.do_train && loaded.config.attention_probs_dropout_prob > 0.0f)
    announce_attention_dropout(loaded.config.attention_probs_dropout_prob);
  return model;
}

// The run's model card (run_qa's create_model_card, after the final evaluation and prediction,
// so that a training's card shows their results; a run without training gets one too).
void write_run_model_card(const TrainOptions& o, const TrainConfig& tc, BertQaModel& model,
                          int world_size) {
  ModelCardInfo card =
      training_model_card(o.output_dir, o.model_name, tc, o.per_device_eval_batch_size, world_size,
                          o.hf.optim, model.backend().name());
  card.trained = o.do_train;
  card.dataset_name = o.hf.dataset.name;
  card.dataset_config = o.hf.dataset.config;
  write_model_card(o.output_dir, card, join_path(o.output_dir, kMetricsLogFile));
}

// Rank 0, after training (or without it): for a training run Trainer.save_state()'s
// trainer_state.json, then the final evaluation, the predictions, and the run's model card.
// run_qa saves the state before it evaluates, so the final evaluation is in the model card,
// trainer_log.jsonl and eval_results.json, but not in trainer_state.json's log_history.
void finish_job(const TrainOptions& o, const RunSettings& run, const TrainConfig& tc,
                BertQaModel& model, const JobData& data, const TrainingEnd& end, RunLogs* logs,
                int world_size, double model_preparation_seconds) {
  if (o.do_train) write_trainer_state(o.output_dir, tc, end, data.train.windows.size(), world_size);
  if (o.do_eval) {
    // Evaluation after training is logged at the last step, as Hugging Face logs it; without
    // training at step 0 and epoch 0 (TrainerState's defaults).
    const SquadScores scores = evaluate_and_log(
        run, model, data.eval, end.state.global_step, o.do_train ? end.state.epoch : 0.0,
        logged_input_tokens(tc, end.state), logs, /*final=*/true, model_preparation_seconds);
    print_scores("", scores);
  }
  if (o.do_predict) {
    const EvalOutcome outcome =
        predict_and_write(run, model, data.predict, model_preparation_seconds);
    if (outcome.scored) print_scores("test_", outcome.scores);
  }
  write_run_model_card(o, tc, model, world_size);
}

}  // namespace

int run_train_job(const TrainOptions& o, Backend& backend, Communicator& comm, int argc, char** argv) {
  const bool root = comm.is_root();
  const RunSettings run = make_run_settings(o);
  const TrainConfig tc = make_train_config(o);
  const OutputDirLock lock = claim_output_dir_for_job(o, run, backend, comm);
  JobModel job_model = load_job_model(o, root);
  const BertConfig& config = job_model.loaded.config;
  const ResumePoint resume = find_resume_point(o, run, config, root);
  // A directory without weights (a lost or never fetched model.safetensors) trains from scratch:
  // hours of fine-tuning towards scores near 0, said loudly before any of it (a resume takes
  // the checkpoint's weights instead).
  if (root && job_model.loaded.random_init && resume.dir.empty())
    std::fprintf(stderr, "%s\n",
                 untrained_model_warning(o.model_name_or_path, o.seed, o.do_train).c_str());

  // Every rank must run the same job: compared before the data is read (the window cache's
  // barrier depends on the flags) and again once it is (prepare_job_data).
  stop_if_ranks_disagree(comm, settings_fields(o, config, *job_model.tokenizer, resume.dir));
  const JobData data = prepare_job_data(o, *job_model.tokenizer, comm);
  if (!resume.dir.empty())  // before anything in output_dir changes
    check_resume_compatible(resume.state, initial_trainer_state(tc, data.train.windows, comm.world_size()),
                            resume.dir);
  // A run without training reports the model's placement as <K>_model_preparation_time, where
  // Trainer times accelerate's prepare_model before its first evaluation.
  double placement_seconds = 0;
  const std::unique_ptr<BertQaModel> model =
      build_job_model(o, backend, job_model.loaded, comm, &placement_seconds);
  const double model_preparation_seconds = o.do_train ? -1.0 : placement_seconds;

  // Left-overs of earlier runs: temporaries of killed saves; with --overwrite_output_dir the
  // old checkpoints and log; when resuming, log lines after the checkpoint's step.
  if (o.do_train && root) {
    prepare_output_dir_for_training(run, resume.state.global_step, resume.state.best_global_step);
    if (!resume.dir.empty() && continue_history_from(resume.dir, o.output_dir))
      std::fprintf(stderr, "[train] the log history up to step %lld continues from %s\n",
                   static_cast<long long>(resume.state.global_step), resume.dir.c_str());
  }
  RunLogs logs;
  if (root) {
    const ReportTo report = parse_report_to(o.hf.report_to);
    for (const std::string& note : report.notes) std::fprintf(stderr, "[report_to] %s\n", note.c_str());
    logs = open_run_logs(o.output_dir, o.do_train, report.tensorboard, o.hf.logging_dir);
    // TensorBoardCallback.on_train_begin: the run's arguments and the model's config as texts.
    if (o.do_train && logs.tensorboard != nullptr) {
      logs.tensorboard->add_text("args", o.args_record, 0);
      logs.tensorboard->add_text("model_config", bert_config_to_json(config), 0);
    }
  }
  // The other ranks must not resume or clear while rank 0 still reads output_dir's old state.
  comm.barrier();

  TrainingEnd end;
  if (o.do_train) {
    const TrainingJob job{
        &config,
        job_model.loaded.vocab_file,
        model.get(),
        &data.train.windows,
        &comm,
        root ? &logs : nullptr,
        resume.dir,
        CommandLine{std::vector<std::string>(argv, argv + argc), o.flag_value_follows},
        root ? &data.eval : nullptr};
    const int status = run_training(run, tc, job, &end);
    if (status >= 0) {
      // A signal during the last step or the final save: the model is saved and the evaluation
      // skipped; the run's records are still written, so that output_dir holds a finished run.
      if (root && end.model_saved) {
        write_trainer_state(o.output_dir, tc, end, data.train.windows.size(), comm.world_size());
        write_run_model_card(o, tc, *model, comm.world_size());
      }
      return status;
    }
  }
  if (root)
    finish_job(o, run, tc, *model, data, end, &logs, comm.world_size(), model_preparation_seconds);
  return 0;
}

}  // namespace bert
