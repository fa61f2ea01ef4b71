#include "engine/data_parallel.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace bert {

size_t global_batches_per_epoch(size_t num_windows, int per_device_batch, int world_size) {
  BERT_CHECK(per_device_batch > 0 && world_size > 0, "per-device batch and world size must be positive");
  const size_t global = static_cast<size_t>(per_device_batch) * static_cast<size_t>(world_size);
  return (num_windows + global - 1) / global;
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
                                 int world_size, int rank, bool group_by_length)
    : windows_(windows),
      per_device_batch_(per_device_batch),
      world_size_(world_size),
      rank_(rank),
      seed_(seed),
      group_by_length_(group_by_length) {
  BERT_CHECK(!windows.empty(), "RankBatchStream: no windows");
  BERT_CHECK(rank >= 0 && rank < world_size, "RankBatchStream: rank outside the world");
  batches_per_epoch_ = global_batches_per_epoch(windows.size(), per_device_batch, world_size);
}

std::vector<size_t> RankBatchStream::epoch_order_now() const {
  return training_order(windows_, size_t(per_device_batch_) * size_t(world_size_), seed_, epoch_, group_by_length_);
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
  ++global_batch_;
  return micro;
}

void RankBatchStream::seek(uint64_t micro_batches) {
  epoch_ = static_cast<int64_t>(micro_batches / batches_per_epoch_);
  global_batch_ = static_cast<size_t>(micro_batches % batches_per_epoch_);
  order_ = epoch_order_now();
}

PassContext rank_pass_context(const RankMicroBatch& micro, uint64_t seed, uint32_t micro_step,
                              int gradient_accumulation_steps) {
  BERT_CHECK(gradient_accumulation_steps > 0, "gradient_accumulation_steps must be positive");
  PassContext context;
  context.training = true;
  context.seed = seed;
  context.micro_step = micro_step;
  context.loss_scale = micro.loss_weight / gradient_accumulation_steps;
  context.token_offset = micro.token_offset;
  return context;
}

int64_t data_parallel_total_steps(const TrainConfig& config, size_t num_windows, int world_size) {
  BERT_CHECK(world_size > 0, "world size must be positive");
  TrainConfig global = config;
  global.batch_size = config.batch_size * world_size;
  return total_train_steps(global, num_windows);
}

namespace {

void check_memory(BertQaModel& model, Communicator& comm) {
  // The CPU backends keep tensors in host memory; every other backend (CUDA) on the device.
  const std::string backend = model.backend().name();
  const bool host = backend.rfind("cpu", 0) == 0;
  if (host != (comm.tensor_memory() == CommMemory::kHost))
    throw BertError("the " + comm.name() + " communicator reduces " +
                    (comm.tensor_memory() == CommMemory::kHost ? "host" : "device") +
                    " memory, but the " + backend + " backend keeps tensors in " + (host ? "host" : "device") +
                    " memory (use NCCL with CUDA, MPI with the CPU)");
}

}  // namespace

void all_reduce_gradients(BertQaModel& model, Communicator& comm) {
  if (comm.world_size() == 1) return;
  check_memory(model, comm);
  comm.all_reduce_sum(model.gradients_flat());
}

void broadcast_parameters(BertQaModel& model, Communicator& comm) {
  if (comm.world_size() == 1) return;
  check_memory(model, comm);
  comm.broadcast(model.master_params());
  model.refresh_working_params();
}

bool any_rank(Communicator& comm, bool flag) { return comm.all_reduce_sum_double(flag ? 1.0 : 0.0) > 0.5; }

UpdateStats data_parallel_step(AdamWOptimizer& optimizer, Communicator& comm, double learning_rate) {
  const UpdateStats stats = optimizer.step(learning_rate);
  if (comm.world_size() == 1) return stats;
  const double skipped = comm.all_reduce_sum_double(stats.applied ? 0.0 : 1.0);
  const double expected = stats.applied ? 0.0 : double(comm.world_size());
  if (skipped != expected)
    comm.abort("ranks disagree on skipping a non-finite update (this rank " +
               std::string(stats.applied ? "applied" : "skipped") + " it, gradient norm " +
               std::to_string(stats.grad_norm) + "): the replicas would diverge");
  return stats;
}

GradientReducer::GradientReducer(BertQaModel& model, Communicator& comm, size_t bucket_bytes)
    : model_(model), comm_(comm) {
  check_memory(model, comm);
  buckets_ = plan_gradient_buckets(gradient_segments(model.layout(), model.config().num_hidden_layers),
                                   bucket_bytes, scalar_size(model.gradients_flat().dtype));
}

BertQaModel::UnitDoneFn GradientReducer::unit_done() {
  // Backward finishes units from the top down, so bucket i (units [first, last], launched in
  // order) is complete once unit `first` is.
  return [this](int unit) {
    size_t end = launched_;
    while (end < buckets_.size() && buckets_[end].first_unit >= unit) ++end;
    launch_through(end);
  };
}

void GradientReducer::launch_through(size_t end) {
  for (; launched_ < end; ++launched_)
    for (const GradientRange& range : buckets_[launched_].ranges)
      comm_.all_reduce_sum_async(slice(model_.gradients_flat(), range.offset, range.count));
}

void GradientReducer::finish() {
  launch_through(buckets_.size());
  comm_.wait_all();
  launched_ = 0;
}

std::vector<GradientSegment> gradient_segments(const ParamLayout& layout, int num_layers) {
  static const std::string kLayerPrefix = "bert.encoder.layer.";
  std::vector<GradientSegment> segments;
  for (const ParamSlot& slot : layout.slots()) {
    GradientSegment segment{slot.name, slot.offset, slot.numel, 0};
    if (slot.name.rfind(kLayerPrefix, 0) == 0) {
      segment.unit = 1 + std::stoi(slot.name.substr(kLayerPrefix.size()));
    } else if (slot.name.rfind("bert.embeddings.", 0) == 0) {
      segment.unit = 0;
    } else if (slot.name.rfind("qa_outputs.", 0) == 0) {
      segment.unit = num_layers + 1;
    } else {
      throw BertError("gradient_segments: parameter " + slot.name + " belongs to no backward stage");
    }
    segments.push_back(segment);
  }
  return segments;
}

}  // namespace bert
