// Shared by the resume tests: a tiny BERT (dropout on) and synthetic windows, small enough
// that a dozen optimizer steps take milliseconds, and a fresh temporary directory.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "data/windows.h"
#include "engine/backend.h"
#include "engine/bert_qa_model.h"
#include "engine/optimizer.h"
#include "engine/trainer.h"
#include "io/param_specs.h"
#include "tests/test_support.h"

namespace bert {
namespace test {

// A 2-layer BERT of hidden 8 for trainer tests.
inline BertConfig small_config(float dropout) {
  BertConfig config;
  config.vocab_size = 50;
  config.hidden_size = 8;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 12;
  config.max_position_embeddings = 16;
  config.hidden_dropout_prob = dropout;
  config.attention_probs_dropout_prob = dropout;
  return config;
}

inline BertConfig resume_config() { return small_config(0.1f); }  // dropout on: its counter must resume too

// `count` windows of 5..14 tokens with labels inside each window.
inline std::vector<Window> resume_windows(size_t count, int salt = 0) {
  std::vector<Window> windows(count);
  for (size_t w = 0; w < count; ++w) {
    Window& window = windows[w];
    const int length = 5 + int((w * 7 + salt) % 10);
    window.example_index = int32_t(w);
    for (int t = 0; t < length; ++t) {
      window.input_ids.push_back(int32_t((w * 13 + t * 5 + salt) % 50));
      window.token_type_ids.push_back(t > length / 2 ? 1 : 0);
      window.offsets.push_back({-1, -1});
    }
    window.start_position = int32_t((w + 1) % length);
    window.end_position = int32_t(std::min(length - 1, window.start_position + 2));
  }
  return windows;
}

inline TrainConfig resume_train_config() {
  TrainConfig config;
  config.batch_size = 4;
  config.gradient_accumulation_steps = 2;
  config.max_steps = 12;  // 23 windows: 6 batches = 3 steps per epoch, so 4 epochs
  config.warmup_steps = 3;
  config.seed = 77;
  config.logging_steps = 4;
  config.save_steps = 0;
  config.optimizer.learning_rate = 3e-3;
  config.optimizer.weight_decay = 0.01;
  return config;
}

// Master weights and both moments, as stored (fp32 values, exactly).
inline std::vector<double> weights_and_moments(Backend& backend, const BertQaModel& model,
                                               const AdamWOptimizer& optimizer) {
  std::vector<double> out = backend.download(model.master_params());
  for (const Tensor& t : {optimizer.exp_avg(), optimizer.exp_avg_sq()}) {
    const std::vector<double> part = backend.download(t);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// What train_resume_windows leaves.
struct TrainedRun {
  int64_t steps = 0;                // as the trainer reports them
  std::vector<double> step_values;  // each step's loss and gradient norm
  std::vector<double> state;        // weights_and_moments after the run
};

// Trains a model of `config` (init_bert_qa_params(config, init_seed)) on `backend` over
// resume_windows(23) as train_config says (resume_train_config: 12 steps of 2 micro-batches).
inline TrainedRun train_resume_windows(Backend& backend, const BertConfig& config,
                                       const TrainConfig& train_config, uint64_t init_seed) {
  BertQaModel model(backend, config, train_config.batch_size * 14, train_config.batch_size);
  model.set_parameters(init_bert_qa_params(config, init_seed));
  AdamWOptimizer optimizer(model, train_config.optimizer);
  Trainer trainer(model, optimizer, train_config);
  TrainedRun run;
  TrainHooks hooks;
  hooks.on_step = [&run](const TrainProgress& progress) {
    run.step_values.push_back(progress.step_loss);
    run.step_values.push_back(progress.grad_norm);
  };
  run.steps = trainer.train(resume_windows(23), hooks).steps;
  run.state = weights_and_moments(backend, model, optimizer);
  return run;
}

// A model, its backend and its optimizer, initialised from `init_seed`.
struct TinyRun {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<BertQaModel> model;
  std::unique_ptr<AdamWOptimizer> optimizer;

  TinyRun(const TrainConfig& train_config, uint64_t init_seed, BertConfig config = resume_config()) {
    backend = make_cpu_backend(false);
    model = std::make_unique<BertQaModel>(*backend, config, train_config.batch_size * 14, train_config.batch_size);
    model->set_parameters(init_bert_qa_params(config, init_seed));
    optimizer = std::make_unique<AdamWOptimizer>(*model, train_config.optimizer);
  }
  std::vector<double> state() { return weights_and_moments(*backend, *model, *optimizer); }
};

// The names directly in `dir`.
inline std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.insert(entry.path().filename().string());
  return names;
}

// <tmp>/<name>_<pid>, emptied: a run scratch directory (test_support.h), removed after a
// passing run.
inline std::string fresh_temp_dir(const std::string& name) {
  const std::string dir = run_scratch_dir(name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace test
}  // namespace bert
