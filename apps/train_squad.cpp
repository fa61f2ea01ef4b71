// train_squad: fine-tunes a BERT checkpoint (Hugging Face directory) on SQuAD and evaluates it,
// with run_qa.py's flag names. Example:
//   train_squad --model_name_or_path bert-base-uncased/ --train_file train-v1.1.json \
//     --validation_file dev-v1.1.json --do_train --do_eval --per_device_train_batch_size 32 \
//     --learning_rate 3e-5 --num_train_epochs 2 --output_dir out/
// Exit status: 0 success, 1 an error (bad file, ...), 2 a bad command line.
#include <cstdio>
#include <ctime>
#include <string>

#include "apps/flags.h"
#include "data/predictions_io.h"
#include "engine/bert_qa_model.h"
#include "engine/core/error.h"
#include "engine/core/file_io.h"
#include "engine/evaluator.h"
#include "engine/io/model_dir.h"
#include "engine/logging/metrics_log.h"
#include "engine/logging/progress.h"
#include "engine/logging/tensorboard_writer.h"
#include "engine/optimizer.h"
#include "engine/squad_job.h"
#include "engine/trainer.h"
#include "tokenizer/tokenizer.h"

namespace bert {
namespace {

struct TrainOptions {
  std::string model_name_or_path, train_file, validation_file, output_dir;
  std::string train_cache_file, device = "auto";
  int32_t max_seq_length = 384, doc_stride = 128;
  int32_t per_device_train_batch_size = 8, per_device_eval_batch_size = 8;
  double learning_rate = 5e-5, num_train_epochs = 3.0, warmup_ratio = 0.0, weight_decay = 0.0;
  double max_grad_norm = 1.0, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  int64_t max_steps = -1, warmup_steps = 0, logging_steps = 500, save_steps = 500;
  int64_t max_train_samples = -1, max_eval_samples = -1;
  int32_t gradient_accumulation_steps = 1, n_best_size = 20, max_answer_length = 30;
  int64_t seed = 42;
  bool do_train = false, do_eval = false, do_lower_case = true;
};

void register_flags(FlagParser* p, TrainOptions* o) {
  p->add_string("model_name_or_path", &o->model_name_or_path,
                "model directory: config.json + vocab.txt (+ model.safetensors; without it the "
                "weights are initialised randomly)");
  p->add_string("train_file", &o->train_file, "SQuAD JSON to train on (with --do_train)");
  p->add_string("validation_file", &o->validation_file, "SQuAD JSON to evaluate on (with --do_eval)");
  p->add_string("output_dir", &o->output_dir, "where the model, checkpoints, logs and predictions go");
  p->add_string("train_cache_file", &o->train_cache_file,
                "binary window cache for the training set: read when it matches, written otherwise");
  p->add_string("device", &o->device, "auto, cpu or cuda");
  p->add_int("max_seq_length", &o->max_seq_length, "tokens per window, question + context + 3 specials");
  p->add_int("doc_stride", &o->doc_stride, "tokens of overlap between consecutive windows of a context");
  p->add_int("per_device_train_batch_size", &o->per_device_train_batch_size, "windows per training micro-batch");
  p->add_int("per_device_eval_batch_size", &o->per_device_eval_batch_size, "windows per evaluation batch");
  p->add_double("learning_rate", &o->learning_rate, "peak AdamW learning rate");
  p->add_double("num_train_epochs", &o->num_train_epochs, "epochs over the training windows");
  p->add_int64("max_steps", &o->max_steps, "optimizer steps; > 0 overrides num_train_epochs");
  p->add_double("warmup_ratio", &o->warmup_ratio, "fraction of the steps with linear warmup");
  p->add_int64("warmup_steps", &o->warmup_steps, "warmup steps; > 0 overrides warmup_ratio");
  p->add_double("weight_decay", &o->weight_decay, "AdamW weight decay (not on biases and LayerNorm)");
  p->add_double("max_grad_norm", &o->max_grad_norm, "global gradient-norm clipping; <= 0 disables");
  p->add_double("adam_beta1", &o->adam_beta1, "AdamW beta1");
  p->add_double("adam_beta2", &o->adam_beta2, "AdamW beta2");
  p->add_double("adam_epsilon", &o->adam_epsilon, "AdamW epsilon");
  p->add_int("gradient_accumulation_steps", &o->gradient_accumulation_steps, "micro-batches per optimizer step");
  p->add_int64("seed", &o->seed, "seed for initialisation, data order and dropout");
  p->add_int64("logging_steps", &o->logging_steps, "log every N optimizer steps");
  p->add_int64("save_steps", &o->save_steps, "save output_dir/checkpoint-N every N steps; <= 0 never");
  p->add_int64("max_train_samples", &o->max_train_samples, "use the first N questions (and at most N windows)");
  p->add_int64("max_eval_samples", &o->max_eval_samples, "evaluate the first N questions (at most N windows)");
  p->add_int("n_best_size", &o->n_best_size, "start/end candidates per window in span selection");
  p->add_int("max_answer_length", &o->max_answer_length, "longest answer in tokens");
  p->add_bool("do_train", &o->do_train, "fine-tune on --train_file");
  p->add_bool("do_eval", &o->do_eval, "evaluate on --validation_file");
  p->add_bool("do_lower_case", &o->do_lower_case, "lower-case and strip accents (uncased models)");
}

void check_options(const TrainOptions& o, const FlagParser& parser) {
  parser.require("model_name_or_path");
  parser.require("output_dir");
  if (!o.do_train && !o.do_eval) throw FlagError("nothing to do: give --do_train and/or --do_eval");
  if (o.do_train) parser.require("train_file", "with --do_train");
  if (o.do_eval) parser.require("validation_file", "with --do_eval");
  auto positive = [](int64_t value, const char* name) {
    if (value <= 0) throw FlagError(std::string("--") + name + " must be positive, got " + std::to_string(value));
  };
  positive(o.per_device_train_batch_size, "per_device_train_batch_size");
  positive(o.per_device_eval_batch_size, "per_device_eval_batch_size");
  positive(o.gradient_accumulation_steps, "gradient_accumulation_steps");
  positive(o.max_seq_length, "max_seq_length");
  positive(o.logging_steps, "logging_steps");
  if (o.learning_rate < 0) throw FlagError("--learning_rate must not be negative");
  if (o.warmup_ratio < 0 || o.warmup_ratio > 1) throw FlagError("--warmup_ratio must lie in [0, 1]");
  if (o.max_steps <= 0 && o.num_train_epochs <= 0)
    throw FlagError("--num_train_epochs must be positive when --max_steps is not given");
}

int run(int argc, char** argv) {
  TrainOptions o;
  FlagParser parser("train_squad", "Fine-tunes BERT for extractive question answering on SQuAD "
                                   "(flags follow Hugging Face run_qa.py).");
  register_flags(&parser, &o);
  if (!parser.parse(argc, argv)) return 0;
  check_options(o, parser);
  make_directories(o.output_dir);
  write_file_atomic(join_path(o.output_dir, ".write_test"), "");  // fail now, not after training
  std::remove(join_path(o.output_dir, ".write_test").c_str());

  LoadedModel loaded = load_model_dir(o.model_name_or_path, static_cast<uint64_t>(o.seed));
  for (const std::string& note : loaded.notes) std::fprintf(stderr, "[model] %s\n", note.c_str());
  const BertConfig& config = loaded.config;
  if (o.max_seq_length > config.max_position_embeddings)
    throw FlagError("--max_seq_length " + std::to_string(o.max_seq_length) + " exceeds the model's " +
                    "max_position_embeddings " + std::to_string(config.max_position_embeddings));
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer(o.model_name_or_path, o.do_lower_case);

  PrepareOptions prepare;
  prepare.window = WindowConfig{o.max_seq_length, o.doc_stride};
  prepare.do_lower_case = o.do_lower_case;
  PreparedSquad train, eval;
  if (o.do_train) {
    prepare.max_samples = o.max_train_samples;
    prepare.cache_file = o.train_cache_file;
    train = prepare_squad(o.train_file, *tokenizer, prepare, "train");
  }
  if (o.do_eval) {
    prepare.max_samples = o.max_eval_samples;
    prepare.cache_file.clear();
    eval = prepare_squad(o.validation_file, *tokenizer, prepare, "eval");
  }

  const std::unique_ptr<Backend> backend = make_backend(o.device);
  const int max_batch = std::max(o.do_train ? o.per_device_train_batch_size : 1,
                                 o.do_eval ? o.per_device_eval_batch_size : 1);
  BertQaModel model(*backend, config, max_batch * o.max_seq_length, max_batch);
  model.set_parameters(loaded.tensors);
  loaded.tensors.clear();
  std::fprintf(stderr, "[model] %zu parameters on %s\n", model.layout().total(), backend->name().c_str());

  // Metrics go to output_dir/trainer_log.jsonl and TensorBoard event files in output_dir/runs.
  MetricsLog metrics(join_path(o.output_dir, "trainer_log.jsonl"));
  TensorBoardWriter tensorboard(join_path(o.output_dir, "runs"));

  int64_t total_train_steps_done = 0;
  if (o.do_train) {
    TrainConfig tc;
    tc.batch_size = o.per_device_train_batch_size;
    tc.gradient_accumulation_steps = o.gradient_accumulation_steps;
    tc.num_train_epochs = o.num_train_epochs;
    tc.max_steps = o.max_steps;
    tc.warmup_ratio = o.warmup_ratio;
    tc.warmup_steps = o.warmup_steps;
    tc.seed = static_cast<uint64_t>(o.seed);
    tc.logging_steps = o.logging_steps;
    tc.save_steps = o.save_steps;
    tc.optimizer = OptimizerConfig{o.learning_rate, o.adam_beta1, o.adam_beta2, o.adam_epsilon, o.weight_decay,
                                   o.max_grad_norm};
    AdamWOptimizer optimizer(model, tc.optimizer);
    const int64_t total = total_train_steps(tc, train.windows.size());
    std::fprintf(stderr, "[train] %zu windows, batch %d x %d accumulation, %lld steps, warmup %lld\n",
                 train.windows.size(), tc.batch_size, tc.gradient_accumulation_steps,
                 static_cast<long long>(total), static_cast<long long>(warmup_steps_for(tc, total)));
    const std::string vocab = join_path(o.model_name_or_path, "vocab.txt");
    auto save = [&](const std::string& dir) {
      save_model_dir(dir, config, model.parameters(), vocab, o.do_lower_case);
    };
    Trainer trainer(model, optimizer, tc);
    ProgressReporter progress(total, ProgressReporter::stderr_is_terminal());
    const TrainSummary summary = trainer.train(
        train.windows,
        [&](const TrainProgress& p) {
          char extra[96];
          std::snprintf(extra, sizeof extra, "epoch %.2f | grad_norm %.4f", p.epoch, p.grad_norm);
          progress.update(p.step, p.loss, p.learning_rate, p.windows_per_second, p.eta_seconds,
                          p.skipped_updates ? std::string(extra) + " | skipped " + std::to_string(p.skipped_updates)
                                            : std::string(extra),
                          p.logging_step);
          if (!p.logging_step) return;
          const std::vector<std::pair<std::string, double>> values = {
              {"epoch", p.epoch}, {"loss", p.loss}, {"learning_rate", p.learning_rate},
              {"grad_norm", p.grad_norm}, {"windows_per_second", p.windows_per_second}};
          metrics.write(p.step, values);
          std::vector<std::pair<std::string, double>> scalars;
          for (const auto& [name, value] : values) scalars.emplace_back("train/" + name, value);
          tensorboard.add_scalars(scalars, p.step);
        },
        [&](int64_t step) {
          const std::string dir = join_path(o.output_dir, "checkpoint-" + std::to_string(step));
          save(dir);
          std::fprintf(stderr, "[train] saved %s\n", dir.c_str());
        });
    progress.finish();
    total_train_steps_done = summary.steps;
    save(o.output_dir);
    std::string results = "{\n    \"train_steps\": " + std::to_string(summary.steps) +
                          ",\n    \"train_loss\": " + format_python_float(summary.final_loss) +
                          ",\n    \"train_runtime\": " + format_python_float(summary.seconds) +
                          ",\n    \"train_windows_per_second\": " + format_python_float(summary.windows_per_second) +
                          "\n}\n";
    write_file_atomic(join_path(o.output_dir, "train_results.json"), results);
    std::fprintf(stderr, "[train] done: %lld steps in %.1f s (%.1f windows/s); model saved to %s\n",
                 static_cast<long long>(summary.steps), summary.seconds, summary.windows_per_second,
                 o.output_dir.c_str());
  }

  if (o.do_eval) {
    const EvalOutcome outcome = evaluate_model(model, eval.dataset, eval.windows, o.per_device_eval_batch_size,
                                               PostprocessConfig{o.n_best_size, o.max_answer_length});
    write_eval_outputs(o.output_dir, outcome, eval.windows.size());
    const int64_t step = o.do_train ? total_train_steps_done : 0;
    metrics.write(step, {{"eval_exact_match", outcome.scores.exact_match}, {"eval_f1", outcome.scores.f1}});
    tensorboard.add_scalars({{"eval/exact_match", outcome.scores.exact_match}, {"eval/f1", outcome.scores.f1}}, step);
    std::fprintf(stderr, "[eval] %zu windows in %.1f s; predictions in %s\n", eval.windows.size(),
                 outcome.seconds, o.output_dir.c_str());
    std::printf("{\"exact_match\": %s, \"f1\": %s}\n", format_python_float(outcome.scores.exact_match).c_str(),
                format_python_float(outcome.scores.f1).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) {
  try {
    return bert::run(argc, argv);
  } catch (const bert::FlagError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const bert::BertError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
