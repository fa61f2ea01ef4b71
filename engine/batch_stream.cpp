// engine/batch_stream.h: orders, slices, micro-batches, positions, the step count.
#include "engine/batch_stream.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "core/error.h"

namespace bert {

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

std::vector<size_t> length_grouped_order(const std::vector<Window>& windows, size_t batch, uint64_t seed,
                                         int64_t epoch) {
  std::vector<size_t> order = epoch_order(windows.size(), seed, epoch);
  if (order.empty()) return order;
  batch = std::max<size_t>(1, batch);
  const size_t multiple = std::max<size_t>(1, std::min<size_t>(50, windows.size() / (4 * batch)));
  const size_t megabatch = multiple * batch;
  auto longer = [&windows](size_t a, size_t b) { return windows[a].length() > windows[b].length(); };
  size_t longest_first = 0;  // start of the megabatch whose first window is the longest (first such)
  for (size_t begin = 0; begin < order.size(); begin += megabatch) {
    const auto first = order.begin() + static_cast<std::ptrdiff_t>(begin);
    const auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), begin + megabatch));
    std::stable_sort(first, last, longer);
    if (windows[order[begin]].length() > windows[order[longest_first]].length()) longest_first = begin;
  }
  std::swap(order[0], order[longest_first]);
  return order;
}

const char* train_sampling_name(TrainSampling sampling) {
  switch (sampling) {
    case TrainSampling::kRandom: return "random";
    case TrainSampling::kGroupByLength: return "group_by_length";
    case TrainSampling::kSequential: return "sequential";
  }
  return "random";
}

bool parse_train_sampling(const std::string& name, TrainSampling* sampling) {
  for (TrainSampling s : {TrainSampling::kRandom, TrainSampling::kGroupByLength, TrainSampling::kSequential})
    if (name == train_sampling_name(s)) {
      *sampling = s;
      return true;
    }
  return false;
}

std::vector<size_t> training_order(const std::vector<Window>& windows, size_t batch, uint64_t seed, int64_t epoch,
                                   TrainSampling sampling) {
  switch (sampling) {
    case TrainSampling::kGroupByLength: return length_grouped_order(windows, batch, seed, epoch);
    case TrainSampling::kSequential: {
      std::vector<size_t> order(windows.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      return order;
    }
    case TrainSampling::kRandom: break;
  }
  return epoch_order(windows.size(), seed, epoch);
}

size_t global_batches_per_epoch(size_t num_windows, int per_device_batch, int world_size, bool drop_last) {
  BERT_CHECK(per_device_batch > 0 && world_size > 0, "per-device batch and world size must be positive");
  const size_t global = static_cast<size_t>(per_device_batch) * static_cast<size_t>(world_size);
  if (!drop_last) return (num_windows + global - 1) / global;
  if (num_windows < global)
    throw InputError("--dataloader_drop_last: " + std::to_string(num_windows) +
                     " training windows do not fill one global batch of " + std::to_string(global) +
                     " (per-device batch x ranks): nothing would be trained");
  return num_windows / global;
}

SliceBounds rank_slice_bounds(size_t num_windows, int per_device_batch, int world_size, int rank,
                              size_t global_batch) {
  BERT_CHECK(rank >= 0 && rank < world_size,
             "rank " + std::to_string(rank) + " outside world size " + std::to_string(world_size));
  const size_t batches = global_batches_per_epoch(num_windows, per_device_batch, world_size);
  BERT_CHECK(global_batch < batches, "global batch " + std::to_string(global_batch) + " of an epoch of " +
                                         std::to_string(batches));
  const size_t global = static_cast<size_t>(per_device_batch) * static_cast<size_t>(world_size);
  SliceBounds bounds;
  bounds.global_begin = global_batch * global;
  bounds.global_end = std::min(num_windows, bounds.global_begin + global);
  // Even split: full batches give b each; a short batch gives the first (count mod N) ranks one more.
  const size_t count = bounds.global_count(), ranks = static_cast<size_t>(world_size);
  const size_t share = count / ranks, extra = count % ranks, r = static_cast<size_t>(rank);
  bounds.begin = bounds.global_begin + r * share + std::min(r, extra);
  bounds.end = bounds.begin + share + (r < extra ? 1 : 0);
  return bounds;
}

RankMicroBatch make_rank_micro_batch(const std::vector<Window>& windows, const std::vector<size_t>& order,
                                     const SliceBounds& bounds, int64_t epoch, size_t global_batch) {
  BERT_CHECK(bounds.global_begin <= bounds.begin && bounds.begin <= bounds.end &&
                 bounds.end <= bounds.global_end && bounds.global_end <= order.size(),
             "slice bounds outside the epoch order");
  RankMicroBatch micro;
  std::vector<const Window*> members;
  for (size_t i = bounds.global_begin; i < bounds.global_end; ++i) {
    BERT_CHECK(order[i] < windows.size(), "epoch order names window " + std::to_string(order[i]) + " of " +
                                              std::to_string(windows.size()));
    const Window& window = windows[order[i]];
    if (i < bounds.begin) micro.token_offset += static_cast<uint64_t>(window.length());
    if (i >= bounds.begin && i < bounds.end) members.push_back(&window);
    micro.global_tokens += static_cast<size_t>(window.length());
  }
  micro.batch = pack_windows(members);
  micro.global_windows = bounds.global_count();
  micro.loss_weight = micro.global_windows == 0 ? 0.0 : double(bounds.count()) / double(micro.global_windows);
  micro.epoch = epoch;
  micro.global_batch = global_batch;
  return micro;
}

RankBatchStream::RankBatchStream(const std::vector<Window>& windows, int per_device_batch, uint64_t seed,
                                 int world_size, int rank, TrainSampling sampling, bool drop_last)
    : windows_(windows),
      per_device_batch_(per_device_batch),
      world_size_(world_size),
      rank_(rank),
      seed_(seed),
      sampling_(sampling) {
  BERT_CHECK(!windows.empty(), "RankBatchStream: no windows");
  BERT_CHECK(rank >= 0 && rank < world_size, "RankBatchStream: rank outside the world");
  batches_per_epoch_ = global_batches_per_epoch(windows.size(), per_device_batch, world_size, drop_last);
}

std::vector<size_t> RankBatchStream::epoch_order_now() const {
  return training_order(windows_, size_t(per_device_batch_) * size_t(world_size_), seed_, epoch_, sampling_);
}

RankMicroBatch RankBatchStream::next() {
  if (epoch_ < 0 || global_batch_ >= batches_per_epoch_) {
    ++epoch_;
    order_ = epoch_order_now();
    global_batch_ = 0;
  }
  const SliceBounds bounds =
      rank_slice_bounds(windows_.size(), per_device_batch_, world_size_, rank_, global_batch_);
  RankMicroBatch micro = make_rank_micro_batch(windows_, order_, bounds, epoch_, global_batch_);
  for (int r = 0; r < world_size_; ++r) {
    const SliceBounds slice = rank_slice_bounds(windows_.size(), per_device_batch_, world_size_, r, global_batch_);
    size_t longest = 0;
    for (size_t i = slice.begin; i < slice.end; ++i) longest = std::max(longest, size_t(windows_[order_[i]].length()));
    micro.device_padded_tokens += slice.count() * longest;
  }
  ++global_batch_;
  return micro;
}

void RankBatchStream::seek(uint64_t micro_batches) {
  epoch_ = static_cast<int64_t>(micro_batches / batches_per_epoch_);
  global_batch_ = static_cast<size_t>(micro_batches % batches_per_epoch_);
  order_ = epoch_order_now();
}

namespace {

// transformers 5's updates per epoch: ceil(batches / accumulation), at least 1.
int64_t updates_per_epoch(size_t batches, int gradient_accumulation_steps) {
  BERT_CHECK(gradient_accumulation_steps > 0, "gradient_accumulation_steps must be positive");
  const int64_t accumulation = gradient_accumulation_steps;
  return std::max<int64_t>(1, (static_cast<int64_t>(batches) + accumulation - 1) / accumulation);
}

}  // namespace

int64_t steps_per_epoch(size_t num_windows, int per_device_batch, int world_size, int gradient_accumulation_steps,
                        bool drop_last) {
  return updates_per_epoch(
      global_batches_per_epoch(num_windows, per_device_batch, world_size, drop_last),
      gradient_accumulation_steps);
}

int micro_batches_in_step(int64_t step, size_t batches_per_epoch, int gradient_accumulation_steps) {
  BERT_CHECK(batches_per_epoch > 0 && step >= 0,
             "micro_batches_in_step: positive batches, a step >= 0");
  const int64_t per_epoch = updates_per_epoch(batches_per_epoch, gradient_accumulation_steps);
  if (step % per_epoch != per_epoch - 1) return gradient_accumulation_steps;
  return static_cast<int>(static_cast<int64_t>(batches_per_epoch) -
                          (per_epoch - 1) * gradient_accumulation_steps);
}

int64_t total_train_steps(size_t num_windows, int per_device_batch, int world_size, int gradient_accumulation_steps,
                          double num_train_epochs, int64_t max_steps, bool drop_last) {
  if (max_steps > 0) return max_steps;
  const int64_t per_epoch =
      steps_per_epoch(num_windows, per_device_batch, world_size, gradient_accumulation_steps, drop_last);
  const double steps = std::ceil(num_train_epochs * static_cast<double>(per_epoch));
  // Converting a double beyond int64 is undefined; no run could take that many steps anyway.
  if (!(steps >= 1 && steps <= 4.0e18))
    throw InputError("--num_train_epochs " + std::to_string(num_train_epochs) + " over " +
                     std::to_string(per_epoch) + " steps per epoch gives " + std::to_string(steps) +
                     " optimizer steps; expected between 1 and 4e18");
  return static_cast<int64_t>(steps);
}

PassContext rank_pass_context(const RankMicroBatch& micro, uint64_t seed, uint32_t micro_step,
                              int step_micro_batches) {
  BERT_CHECK(step_micro_batches > 0, "a step's micro-batches must be positive");
  PassContext context;
  context.training = true;
  context.seed = seed;
  context.micro_step = micro_step;
  context.loss_scale = micro.loss_weight / step_micro_batches;
  context.token_offset = micro.token_offset;
  return context;
}

DataPosition RankBatchStream::position_after(const RankMicroBatch& micro) const {
  const size_t global = size_t(per_device_batch_) * size_t(world_size_);
  const size_t end = std::min(windows_.size(), (micro.global_batch + 1) * global);
  return DataPosition{micro.epoch, static_cast<int64_t>(end)};
}

void RankBatchStream::seek(const DataPosition& position) {
  // The global micro-batches consumed before `position`: whole epochs, then the batches that
  // start before its index.
  const uint64_t global = uint64_t(per_device_batch_) * uint64_t(world_size_);
  const uint64_t in_epoch = (static_cast<uint64_t>(position.index) + global - 1) / global;
  seek(static_cast<uint64_t>(position.epoch) * batches_per_epoch_ + in_epoch);
}

PrefetchedBatchStream::PrefetchedBatchStream(const std::vector<Window>& windows, int per_device_batch,
                                             uint64_t seed, int world_size, int rank, TrainSampling sampling,
                                             bool drop_last,
                                             const DataPosition& start)
    : stream_(windows, per_device_batch, seed, world_size, rank, sampling, drop_last) {
  stream_.seek(start);
  prefetch();
}

PrefetchedBatchStream::~PrefetchedBatchStream() {
  if (upcoming_.valid()) upcoming_.wait();
}

RankMicroBatch PrefetchedBatchStream::next() {
  RankMicroBatch out = upcoming_.get();
  prefetch();
  return out;
}

void PrefetchedBatchStream::prefetch() {
  upcoming_ = std::async(std::launch::async, [this] { return stream_.next(); });
}

}  // namespace bert
