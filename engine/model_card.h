// The model card run_qa.py leaves in output_dir as README.md (Trainer.create_model_card, laid
// out as transformers 5.25's TrainingSummary.to_model_card): YAML metadata (library_name,
// base_model, tags, datasets, metrics, model-index), the notice that it was generated, what the
// model was fine-tuned from and on which dataset, the final evaluation's results, the training
// hyperparameters, a table of the evaluations during training, and what trained it.
//
// Where this card differs from run_qa's, it says more: run_qa's evaluation logs no loss, and
// TrainingSummary lists results and table rows only for logs with an eval_loss, so run_qa's
// card for a QA model has neither; here the final evaluation's scores and each evaluation
// during training (with the training loss logged before it) are listed. The framework lines
// name this engine instead of PyTorch.
//
// --model_name_or_path is linked and named as base_model when it reads as a Hub id
// ("bert-base-uncased", "org/name": what a local copy is usually named after); a longer path is
// named in the text only (a local path as base_model is metadata the Hub rejects).
//
// A README.md without the generated notice is the user's own card (the notice asks to remove
// it once the card is proofread): it is never replaced.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/trainer.h"

namespace bert {

struct ModelCardInfo {
  std::string model_name;      // output_dir's last component, as Trainer names it
  std::string finetuned_from;  // --model_name_or_path (run_qa passes it as finetuned_from)
  // --dataset_name and --dataset_config_name as given (run_qa passes them as dataset_tags,
  // dataset_args and dataset "<name> <config>"); empty when the data came from files.
  std::string dataset_name, dataset_config;
  std::vector<std::pair<std::string, std::string>> hyperparameters;  // name, value as Python prints it
  std::vector<std::string> framework;  // "Framework versions" lines
  // false for a run that only evaluated or predicted (run_qa writes its card whatever ran): then
  // TrainingSummary finds no training log and no eval_loss, so the card lists no results and
  // has no "Training results" section; the hyperparameters are still the flags'.
  bool trained = true;
};

// The card of a training run: named after output_dir's last component as Trainer names it (the
// base model's name when that is empty), fine-tuned from model_name_or_path, with
// extract_hyperparameters_from_trainer's list: learning_rate, train_batch_size,
// eval_batch_size, seed, then distributed_type / num_devices (several ranks),
// gradient_accumulation_steps (> 1), total_train_batch_size (when it differs), optimizer,
// lr_scheduler_type, lr_scheduler_warmup_steps (as given: a ratio below 1, else steps; when not
// 0), and training_steps (--max_steps) or num_epochs. Evaluation runs on rank 0 alone, so no
// total_eval_batch_size. backend_name: Backend::name() (cpu, cpu-double, cuda, cuda-fp32).
ModelCardInfo training_model_card(const std::string& output_dir, const std::string& model_name_or_path,
                                  const TrainConfig& config, int eval_batch_size, int world_size,
                                  const std::string& optim, const std::string& backend_name);

// The card's Markdown, the results and the table read from the run's metrics log
// (trainer_log.jsonl: the summary line holds train_loss; evaluation lines eval_ keys).
std::string model_card_markdown(const ModelCardInfo& info, const std::string& metrics_log_path);

// Whether the file at path is a card this engine (or Trainer) generated: it holds the notice.
bool is_generated_model_card(const std::string& path);

// Writes output_dir/README.md (atomically) unless a README.md there is not generated (then a
// line on stderr says the user's card was kept); returns whether it was written. The card of a
// run without training (info.trained false) replaces no README.md at all, generated or not,
// where Trainer would replace any: evaluating into a training's output_dir keeps that
// training's card, whose results and hyperparameters this run does not know.
bool write_model_card(const std::string& output_dir, const ModelCardInfo& info, const std::string& metrics_log_path);

}  // namespace bert
