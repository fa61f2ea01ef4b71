#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <random>

#include "engine/core/error.h"
#include "engine/packed_batch.h"

namespace bert {

int64_t total_train_steps(const TrainConfig& config, size_t num_windows) {
  if (config.max_steps > 0) return config.max_steps;
  const int64_t batches = static_cast<int64_t>((num_windows + config.batch_size - 1) / config.batch_size);
  const int64_t per_epoch = std::max<int64_t>(1, batches / config.gradient_accumulation_steps);
  return static_cast<int64_t>(std::ceil(config.num_train_epochs * static_cast<double>(per_epoch)));
}

int64_t warmup_steps_for(const TrainConfig& config, int64_t total_steps) {
  if (config.warmup_steps > 0) return config.warmup_steps;
  return static_cast<int64_t>(std::ceil(config.warmup_ratio * static_cast<double>(total_steps)));
}

std::vector<size_t> epoch_order(size_t count, uint64_t seed, int64_t epoch) {
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  std::mt19937_64 engine(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  for (size_t i = count; i > 1; --i) {
    // Unbiased draw in [0, i) by rejection, independent of the standard library's distributions.
    const uint64_t bound = static_cast<uint64_t>(i);
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % bound);
    uint64_t draw;
    do draw = engine(); while (draw >= limit);
    std::swap(order[i - 1], order[draw % bound]);
  }
  return order;
}

Trainer::Trainer(BertQaModel& model, AdamWOptimizer& optimizer, const TrainConfig& config)
    : model_(model), optimizer_(optimizer), config_(config) {
  if (config.batch_size <= 0) throw InputError("--per_device_train_batch_size must be positive");
  if (config.gradient_accumulation_steps <= 0) throw InputError("--gradient_accumulation_steps must be positive");
}

namespace {
// Micro-batches in visiting order: epoch after epoch, each a fresh shuffle.
class BatchStream {
 public:
  BatchStream(const std::vector<Window>& windows, int batch_size, uint64_t seed)
      : windows_(windows), batch_size_(batch_size), seed_(seed) {}
  PackedBatch next() {
    if (position_ >= order_.size()) {
      order_ = epoch_order(windows_.size(), seed_, epoch_);
      ++epoch_;
      position_ = 0;
    }
    const size_t end = std::min(order_.size(), position_ + batch_size_);
    std::vector<const Window*> members;
    for (size_t i = position_; i < end; ++i) members.push_back(&windows_[order_[i]]);
    position_ = end;
    return pack_windows(members);
  }

 private:
  const std::vector<Window>& windows_;
  size_t batch_size_;
  uint64_t seed_;
  std::vector<size_t> order_;
  size_t position_ = 0;
  int64_t epoch_ = 0;
};
}  // namespace

TrainSummary Trainer::train(const std::vector<Window>& windows, const LogFn& log, const SaveFn& save) {
  if (windows.empty()) throw InputError("no training windows: the training file produced an empty dataset");
  const int64_t total = total_train_steps(config_, windows.size());
  const int64_t warmup = warmup_steps_for(config_, total);
  const double batches_per_epoch = std::ceil(double(windows.size()) / config_.batch_size);
  BatchStream stream(windows, config_.batch_size, config_.seed);
  std::future<PackedBatch> upcoming = std::async(std::launch::async, [&] { return stream.next(); });

  TrainSummary summary;
  const auto started = std::chrono::steady_clock::now();
  auto interval_start = started;
  double interval_loss = 0;
  int64_t interval_micro = 0, interval_windows = 0, total_windows = 0, skipped = 0;
  uint32_t micro_step = 0;
  const int64_t first_step = optimizer_.steps_done();
  for (int64_t step = first_step; step < total; ++step) {
    model_.zero_gradients();
    double step_loss = 0;
    for (int micro = 0; micro < config_.gradient_accumulation_steps; ++micro) {
      const PackedBatch batch = upcoming.get();
      upcoming = std::async(std::launch::async, [&] { return stream.next(); });
      model_.load_batch(batch);
      PassContext context;
      context.training = true;
      context.seed = config_.seed;
      context.micro_step = micro_step++;
      context.loss_scale = 1.0 / config_.gradient_accumulation_steps;
      const double loss = model_.forward(context, true);
      model_.backward(context);
      if (summary.step_losses.empty() && micro == 0) summary.first_loss = loss;
      step_loss += loss / config_.gradient_accumulation_steps;
      interval_windows += batch.batch();
      total_windows += batch.batch();
    }
    const double lr = linear_schedule_lr(config_.optimizer.learning_rate, step, warmup, total);
    const UpdateStats stats = optimizer_.step(lr);
    if (!stats.applied) ++skipped;
    summary.step_losses.push_back(step_loss);
    interval_loss += step_loss;
    ++interval_micro;
    const int64_t done = step + 1;
    const bool logging_step = done % std::max<int64_t>(1, config_.logging_steps) == 0 || done == total;
    if (log) {
      const auto now = std::chrono::steady_clock::now();
      const double interval_seconds = std::chrono::duration<double>(now - interval_start).count();
      const double elapsed = std::chrono::duration<double>(now - started).count();
      TrainProgress progress;
      progress.step = done;
      progress.total_steps = total;
      progress.epoch = double(done * config_.gradient_accumulation_steps) / batches_per_epoch;
      progress.loss = interval_loss / interval_micro;
      progress.learning_rate = lr;
      progress.grad_norm = stats.grad_norm;
      progress.windows_per_second = interval_windows / std::max(1e-9, interval_seconds);
      progress.eta_seconds = elapsed / double(done - first_step) * double(total - done);
      progress.skipped_updates = skipped;
      progress.logging_step = logging_step;
      log(progress);
      if (logging_step) summary.final_loss = progress.loss;
    }
    if (logging_step) {
      interval_loss = 0;
      interval_micro = 0;
      interval_windows = 0;
      interval_start = std::chrono::steady_clock::now();
    }
    if (save && config_.save_steps > 0 && done % config_.save_steps == 0 && done != total) save(done);
  }
  upcoming.wait();
  summary.steps = total;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.windows_per_second = total_windows / std::max(1e-9, summary.seconds);
  return summary;
}

}  // namespace bert
