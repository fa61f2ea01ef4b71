// Data parallelism without changing the math: N ranks training on per-device batches of b
// windows produce the same losses, gradients and dropout masks as one process training on
// batches of N·b windows, for every N.
//
// Slicing. Global micro-batch i of an epoch is positions [i·N·b, (i+1)·N·b) of that epoch's
// order (engine/trainer.h's epoch_order, identical on every rank), i.e. exactly the batch the
// single process with batch N·b visits. Rank r takes the r-th contiguous sub-slice. Full global
// batches give every rank b windows; the epoch's short final batch of R < N·b windows is split
// as evenly as possible (the first R mod N ranks get one more), so a rank may get 0 windows.
//
// Loss and gradients. Each rank's forward returns the mean loss over its own windows; with
// loss_weight = (its windows)/(global windows), Σ_r loss_weight_r · loss_r is the mean over the
// global batch, and with PassContext::loss_scale = loss_weight/accumulation each rank's
// gradient is its share of the global-batch mean's gradient, so the all-reduced *sum* is the
// single-process gradient (for full batches loss_weight = 1/N: the usual "sum then divide by N",
// folded into the loss scale). A rank with 0 windows runs no forward/backward but still joins
// every collective with zero gradients.
//
// Dropout. Mask element indices come from the packed token index within the batch (hidden
// sites: token·H + h; attention probabilities: (token·heads + head)·max_positions + key), so a
// rank passes PassContext::token_offset = tokens of the global batch before its slice and the
// model shifts every site's element index by token_offset × (that site's elements per token):
// each rank draws exactly the single-process masks for its tokens. micro_step must be the
// global micro-batch counter, the same on every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/windows.h"
#include "engine/bert_qa_model.h"
#include "comm/communicator.h"
#include "comm/gradient_buckets.h"
#include "engine/optimizer.h"
#include "engine/packed_batch.h"
#include "engine/trainer.h"

namespace bert {

// Global batch and one rank's slice of it, as positions in the epoch order.
struct SliceBounds {
  size_t global_begin = 0, global_end = 0;  // the global micro-batch
  size_t begin = 0, end = 0;                // this rank's part, inside it
  size_t count() const { return end - begin; }
  size_t global_count() const { return global_end - global_begin; }
};

// ceil(num_windows / (world_size · per_device_batch)): global micro-batches per epoch.
size_t global_batches_per_epoch(size_t num_windows, int per_device_batch, int world_size);

// Rank `rank`'s slice of global micro-batch `global_batch` (< global_batches_per_epoch).
SliceBounds rank_slice_bounds(size_t num_windows, int per_device_batch, int world_size, int rank,
                              size_t global_batch);

// One rank's micro-batch, ready for load_batch (when it has windows) and rank_pass_context.
struct RankMicroBatch {
  PackedBatch batch;          // the rank's windows in epoch order; batch.batch() == 0 if none
  uint64_t token_offset = 0;  // packed tokens of the global batch before the rank's windows
  size_t global_windows = 0;  // windows in the whole global micro-batch
  size_t global_tokens = 0;   // tokens in the whole global micro-batch
  double loss_weight = 0;     // batch.batch() / global_windows
  int64_t epoch = 0;
  size_t global_batch = 0;    // index inside the epoch
  bool empty() const { return batch.batch() == 0; }
};

// Packs the rank's windows of `bounds` from `order` (an epoch order over `windows`).
RankMicroBatch make_rank_micro_batch(const std::vector<Window>& windows, const std::vector<size_t>& order,
                                     const SliceBounds& bounds, int64_t epoch, size_t global_batch);

// The rank's micro-batches, epoch after epoch (a fresh training_order(…, seed, epoch,
// group_by_length) over the global batch each epoch),
// as the trainer's batch stream visits batches of world_size·per_device_batch windows. With
// world_size 1 it yields exactly the trainer's batches of per_device_batch windows.
class RankBatchStream {
 public:
  RankBatchStream(const std::vector<Window>& windows, int per_device_batch, uint64_t seed, int world_size,
                  int rank, bool group_by_length = false);
  RankMicroBatch next();
  // Positions the stream as if next() had been called `micro_batches` times (resuming from a
  // checkpoint after steps_done · gradient_accumulation_steps micro-batches).
  void seek(uint64_t micro_batches);

 private:
  std::vector<size_t> epoch_order_now() const;  // the order of epoch_
  const std::vector<Window>& windows_;
  int per_device_batch_, world_size_, rank_;
  uint64_t seed_;
  bool group_by_length_;
  std::vector<size_t> order_;
  size_t global_batch_ = 0, batches_per_epoch_ = 0;
  int64_t epoch_ = -1;
};

// The context of one training forward/backward of the rank: dropout on, the global
// micro_step, loss_scale = loss_weight / gradient_accumulation_steps, the token offset.
PassContext rank_pass_context(const RankMicroBatch& micro, uint64_t seed, uint32_t micro_step,
                              int gradient_accumulation_steps);

// Optimizer steps of a data-parallel run: Trainer's count for batches of world_size·batch_size.
int64_t data_parallel_total_steps(const TrainConfig& config, size_t num_windows, int world_size);

// ---- collectives over the model (every rank calls them, in the same order) ----

// Sums the flat gradient buffer over ranks, in place: once per optimizer step, after the last
// micro-batch's backward. Throws BertError when the communicator cannot take the backend's
// memory (the MPI communicator with the CUDA backend).
void all_reduce_gradients(BertQaModel& model, Communicator& comm);

// Rank 0's master weights to every rank (then the working copy is refreshed): after loading or
// initialising, so that every replica starts bit-identical whatever each rank read.
void broadcast_parameters(BertQaModel& model, Communicator& comm);

// True on every rank when `flag` is true on at least one.
bool any_rank(Communicator& comm, bool flag);

// optimizer.step(lr) after all_reduce_gradients, with the skip decision checked across ranks:
// the reduced gradients are identical everywhere, so a non-finite norm skips the update on
// every rank; if ranks ever disagree their parameters would silently diverge, so the job is
// aborted (comm.abort) naming the rank instead.
UpdateStats data_parallel_step(AdamWOptimizer& optimizer, Communicator& comm, double learning_rate);

// Overlaps the gradient all-reduce with backward: pass unit_done() to the step's last
// backward; each bucket (plan_gradient_buckets over gradient_segments) is launched with
// comm.all_reduce_sum_async as soon as backward has finished all of its units, in bucket order
// on every rank. finish() launches what was not launched (a rank whose last micro-batch was
// empty runs no backward) and completes every reduction (comm.wait_all) before the update.
class GradientReducer {
 public:
  GradientReducer(BertQaModel& model, Communicator& comm, size_t bucket_bytes = kDefaultBucketBytes);
  BertQaModel::UnitDoneFn unit_done();
  void finish();
  size_t bucket_count() const { return buckets_.size(); }

 private:
  void launch_through(size_t end);  // launches buckets [launched_, end)
  BertQaModel& model_;
  Communicator& comm_;
  std::vector<GradientBucket> buckets_;
  size_t launched_ = 0;
};

// Segments of the model's gradient buffer for plan_gradient_buckets: unit 0 = embeddings,
// l + 1 = encoder layer l, num_layers + 1 = the QA head (the order backward finishes them in
// reverse).
std::vector<GradientSegment> gradient_segments(const ParamLayout& layout, int num_layers);

}  // namespace bert
