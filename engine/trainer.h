// The fine-tuning loop: windows shuffled by seed each epoch, packed into batches of
// per_device_train_batch_size windows (the next batch is packed on a host thread while the
// current one computes), gradient accumulation, global-norm clipping, AdamW with linear
// warmup/decay, periodic logging (step, loss, learning rate, gradient norm, windows/s, ETA)
// and model saves every save_steps.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/windows.h"
#include "engine/bert_qa_model.h"
#include "engine/optimizer.h"

namespace bert {

struct TrainConfig {
  int batch_size = 12;                 // windows per micro-batch (per device)
  int gradient_accumulation_steps = 1;
  double num_train_epochs = 2.0;
  int64_t max_steps = -1;              // > 0 overrides num_train_epochs
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;            // > 0 overrides warmup_ratio
  uint64_t seed = 42;
  int64_t logging_steps = 500;
  int64_t save_steps = 500;            // <= 0: no intermediate saves
  OptimizerConfig optimizer;
};

struct TrainProgress {
  int64_t step = 0, total_steps = 0;
  double epoch = 0;
  double loss = 0;          // mean over the logging interval
  double learning_rate = 0;
  double grad_norm = 0;
  double windows_per_second = 0;
  double eta_seconds = 0;
  int64_t skipped_updates = 0;  // non-finite gradient norms so far
  bool logging_step = false;    // a logging_steps boundary (or the last step): log a line
};

struct TrainSummary {
  int64_t steps = 0;
  double final_loss = 0;       // mean loss over the last logging interval
  double first_loss = 0;       // loss of the first micro-batch
  double seconds = 0;
  double windows_per_second = 0;
  std::vector<double> step_losses;  // mean micro-batch loss of every optimizer step
};

// Number of optimizer steps and warmup steps as Hugging Face's Trainer derives them.
int64_t total_train_steps(const TrainConfig& config, size_t num_windows);
int64_t warmup_steps_for(const TrainConfig& config, int64_t total_steps);

class Trainer {
 public:
  // Called after every optimizer step; loss and windows/s cover the steps since the last
  // logging step, and `logging_step` marks the steps that should leave a log line.
  using LogFn = std::function<void(const TrainProgress&)>;
  using SaveFn = std::function<void(int64_t step)>;

  Trainer(BertQaModel& model, AdamWOptimizer& optimizer, const TrainConfig& config);
  TrainSummary train(const std::vector<Window>& windows, const LogFn& log, const SaveFn& save);

 private:
  BertQaModel& model_;
  AdamWOptimizer& optimizer_;
  TrainConfig config_;
};

// The order in which an epoch visits the windows: a Fisher-Yates shuffle from (seed, epoch)
// with a portable generator, so runs are reproducible across machines.
std::vector<size_t> epoch_order(size_t count, uint64_t seed, int64_t epoch);

}  // namespace bert
