// train_squad's options: its flags as parsed (apps/train_squad.cpp registers and checks them)
// and what is derived from them before the job runs (apps/train_job.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "apps/hf_passive_flags.h"
#include "apps/hf_trainer_flags.h"
#include "engine/batch_stream.h"  // TrainSampling

namespace bert {

struct TrainOptions {
  std::string model_name_or_path, train_file, validation_file, test_file;
  std::string output_dir = "trainer_output";  // transformers 5's TrainingArguments default
  std::string model_name;  // --model_name_or_path as given, before apps/model_location.h resolved it
  std::string train_cache_file, device = "auto", resume_from_checkpoint;
  int32_t max_seq_length = 384, doc_stride = 128;
  int32_t per_device_train_batch_size = 8, per_device_eval_batch_size = 8;
  double learning_rate = 5e-5, num_train_epochs = 3.0, warmup_ratio = 0.0, weight_decay = 0.0;
  double max_grad_norm = 1.0, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double ddp_timeout = 1800;
  double warmup_steps_given = 0;  // --warmup_steps as given: steps, or a ratio below 1
  int64_t max_steps = -1, warmup_steps = 0, save_total_limit = -1;
  // Steps, or below 1 a fraction of the run's steps (engine/trainer.h interval_steps).
  double logging_steps = 500, save_steps = 500;
  int64_t max_train_samples = -1, max_eval_samples = -1, max_predict_samples = -1;
  int64_t max_consecutive_nonfinite = 10, stop_after_steps = -1;
  int32_t gradient_accumulation_steps = 1, n_best_size = 20, max_answer_length = 30;
  int64_t seed = 42, data_seed = -1;  // data_seed < 0: the order follows seed
  bool do_train = false, do_eval = false, do_predict = false, do_lower_case = true, overwrite_output_dir = false;
  bool group_by_length = false, dataloader_drop_last = false;
  TrainSampling sampling = TrainSampling::kRandom;  // derived: --train_sampling_strategy / --group_by_length
  HfTrainerOptions hf;  // Hugging Face Trainer / run_qa.py flags (apps/hf_trainer_flags.h)
  HfPassiveFlags passive;  // Trainer flags that change nothing here, or are refused (apps/hf_passive_flags.h)
  // Derived after parsing, not flags.
  bool keep_accents = true;  // a SentencePiece model's, from tokenizer_config.json
  int64_t model_max_length = 0;  // tokenizer_config.json's (0: none), kept in saved models
  std::string do_lower_case_note;
  std::vector<std::string> notes;  // flag notes for rank 0's log (overrides, precision, report_to)
  std::string args_record;         // every flag's value, for output_dir/training_args.json
  // Which argument is a flag's value (FlagParser::value_rule), for the commands a stopped run
  // prints.
  std::function<bool(const std::string& name, const std::string& next)> flag_value_follows;
};

// The seed of the epochs' order: --data_seed when given (>= 0), else --seed.
inline uint64_t data_seed_of(const TrainOptions& o) { return static_cast<uint64_t>(o.data_seed >= 0 ? o.data_seed : o.seed); }

// Whether the run evaluates or predicts, so the model needs room for an evaluation batch.
inline bool runs_evaluation(const TrainOptions& o) { return o.do_eval || o.do_predict; }

}  // namespace bert
