// What a training batch is, in one place: each epoch's order of the windows, its cut into global
// micro-batches of world_size·b windows and each rank's slice of them, the packing, where the
// stream stands (the checkpoint's DataPosition), the prefetch thread, and how many optimizer
// steps a run takes. A one-process run is world_size 1, rank 0: the same code path.
//
// Slicing. Global micro-batch i of an epoch is positions [i·N·b, (i+1)·N·b) of that epoch's
// order (identical on every rank), i.e. exactly the batch the single process with batch N·b
// visits. Rank r takes the r-th contiguous sub-slice. Full global batches give every rank b
// windows; the epoch's short final batch of R < N·b windows is split as evenly as possible (the
// first R mod N ranks get one more), so a rank may get 0 windows.
//
// Loss and dropout. Each rank's forward returns the mean loss over its own windows; with
// loss_weight = (its windows)/(global windows) and PassContext::loss_scale =
// loss_weight/accumulation, the all-reduced *sum* of the ranks' gradients is the single-process
// gradient. Mask element indices come from the packed token index within the global batch, so a
// rank passes PassContext::token_offset = tokens of the global batch before its slice and draws
// exactly the single-process masks for its tokens (engine/data_parallel.h has the collectives).
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "data/windows.h"
#include "engine/bert_qa_model.h"
#include "engine/packed_batch.h"

namespace bert {

// ---- each epoch's order ----

// The order in which an epoch visits the windows: a Fisher-Yates shuffle from (seed, epoch)
// with a portable generator, so runs are reproducible across machines.
std::vector<size_t> epoch_order(size_t count, uint64_t seed, int64_t epoch);

// transformers' get_length_grouped_indices (Trainer's --group_by_length) over epoch_order: the
// shuffled windows cut into megabatches of min(50, count / (4·batch)) (at least 1) batches, each
// megabatch sorted by length, longest first (stable), and the longest window of all swapped to
// the very front. `batch` is the global batch (windows per optimizer micro-step).
std::vector<size_t> length_grouped_order(const std::vector<Window>& windows, size_t batch, uint64_t seed,
                                         int64_t epoch);

// How the epochs order the windows, as transformers 5's --train_sampling_strategy names it:
// random (epoch_order: a fresh shuffle each epoch), group_by_length (length_grouped_order;
// transformers 4's --group_by_length) or sequential (file order every epoch: SequentialSampler).
enum class TrainSampling { kRandom, kGroupByLength, kSequential };
const char* train_sampling_name(TrainSampling sampling);
bool parse_train_sampling(const std::string& name, TrainSampling* sampling);  // false: unknown name

// The epoch's order under the run's setting.
std::vector<size_t> training_order(const std::vector<Window>& windows, size_t batch, uint64_t seed, int64_t epoch,
                                   TrainSampling sampling);

// ---- global micro-batches, rank slices, the step count ----

// ceil(num_windows / (world_size · per_device_batch)): global micro-batches per epoch; with
// drop_last (transformers' --dataloader_drop_last) the floor: the short last batch of each
// epoch's order is not trained on (InputError when not even one batch is full).
size_t global_batches_per_epoch(size_t num_windows, int per_device_batch, int world_size, bool drop_last = false);

// Optimizer steps per epoch, as transformers 5's Trainer counts them: ceil(global micro-batches
// per epoch / gradient_accumulation_steps). No step spans two epochs: each epoch's last step
// takes the micro-batches left over (micro_batches_in_step).
int64_t steps_per_epoch(size_t num_windows, int per_device_batch, int world_size, int gradient_accumulation_steps,
                        bool drop_last = false);

// The global micro-batches optimizer step `step` (0-based, counted over the whole run)
// accumulates: gradient_accumulation_steps, except an epoch's last step, which takes the
// epoch's remaining batches_per_epoch mod gradient_accumulation_steps when that is not 0
// (transformers 5: its loss is then the mean over those micro-batches).
int micro_batches_in_step(int64_t step, size_t batches_per_epoch, int gradient_accumulation_steps);

// Optimizer steps of a run, as Hugging Face's Trainer counts them for a global batch of
// world_size·per_device_batch: max_steps when positive, else ceil(num_train_epochs · steps per
// epoch) (steps_per_epoch above). InputError when that is not between 1 and 4e18.
int64_t total_train_steps(size_t num_windows, int per_device_batch, int world_size, int gradient_accumulation_steps,
                          double num_train_epochs, int64_t max_steps, bool drop_last = false);

// Global batch and one rank's slice of it, as positions in the epoch order.
struct SliceBounds {
  size_t global_begin = 0, global_end = 0;  // the global micro-batch
  size_t begin = 0, end = 0;                // this rank's part, inside it
  size_t count() const { return end - begin; }
  size_t global_count() const { return global_end - global_begin; }
};

// Rank `rank`'s slice of global micro-batch `global_batch` (< global_batches_per_epoch).
SliceBounds rank_slice_bounds(size_t num_windows, int per_device_batch, int world_size, int rank,
                              size_t global_batch);

// One rank's micro-batch, ready for load_batch (when it has windows) and rank_pass_context.
struct RankMicroBatch {
  PackedBatch batch;          // the rank's windows in epoch order; batch.batch() == 0 if none
  uint64_t token_offset = 0;  // packed tokens of the global batch before the rank's windows
  size_t global_windows = 0;  // windows in the whole global micro-batch
  size_t global_tokens = 0;   // tokens in the whole global micro-batch
  // Σ over the ranks of (windows in the rank's slice × its longest window): what Hugging Face's
  // per-device batches padded to their longest would hold (Trainer's total_flos counts them).
  size_t device_padded_tokens = 0;
  double loss_weight = 0;     // batch.batch() / global_windows
  int64_t epoch = 0;
  size_t global_batch = 0;    // index inside the epoch
  bool empty() const { return batch.batch() == 0; }
};

// Packs the rank's windows of `bounds` from `order` (an epoch order over `windows`).
RankMicroBatch make_rank_micro_batch(const std::vector<Window>& windows, const std::vector<size_t>& order,
                                     const SliceBounds& bounds, int64_t epoch, size_t global_batch);

// The context of one training forward/backward of the rank: dropout on, the global
// micro_step, loss_scale = loss_weight / step_micro_batches (the micro-batches its optimizer
// step accumulates: micro_batches_in_step), the token offset.
PassContext rank_pass_context(const RankMicroBatch& micro, uint64_t seed, uint32_t micro_step,
                              int step_micro_batches);

// ---- where the stream stands ----

// The next window is position `index` of epoch `epoch`'s order; index == the window count means
// "start the next epoch". Recorded in checkpoints (trainer_state.json data_epoch/data_index).
struct DataPosition {
  int64_t epoch = 0;
  int64_t index = 0;
  bool operator==(const DataPosition& other) const { return epoch == other.epoch && index == other.index; }
};

// ---- the streams ----

// The rank's micro-batches, epoch after epoch (a fresh training_order over the global batch each
// epoch). With world_size 1 it yields exactly the batches of per_device_batch windows.
class RankBatchStream {
 public:
  RankBatchStream(const std::vector<Window>& windows, int per_device_batch, uint64_t seed, int world_size,
                  int rank, TrainSampling sampling = TrainSampling::kRandom, bool drop_last = false);
  RankMicroBatch next();
  // Positions the stream as if next() had been called `micro_batches` times.
  void seek(uint64_t micro_batches);
  // Positions the stream at a checkpoint's position (global batches start at multiples of the
  // global batch, or at the epoch's end).
  void seek(const DataPosition& position);
  // Where the stream stands once `micro` is consumed (what a checkpoint taken then records).
  DataPosition position_after(const RankMicroBatch& micro) const;
  size_t batches_per_epoch() const { return batches_per_epoch_; }

 private:
  std::vector<size_t> epoch_order_now() const;  // the order of epoch_
  const std::vector<Window>& windows_;
  int per_device_batch_, world_size_, rank_;
  uint64_t seed_;
  TrainSampling sampling_;
  std::vector<size_t> order_;
  size_t global_batch_ = 0, batches_per_epoch_ = 0;
  int64_t epoch_ = -1;
};

// A RankBatchStream that packs the next micro-batch on a host thread while the current one
// computes. The prefetched batch is never part of the trainer's state: position_after() names the
// position after the batch the model consumed, so a checkpoint taken now resumes with the batch
// that was being prefetched.
class PrefetchedBatchStream {
 public:
  PrefetchedBatchStream(const std::vector<Window>& windows, int per_device_batch, uint64_t seed, int world_size,
                        int rank, TrainSampling sampling, bool drop_last, const DataPosition& start);
  ~PrefetchedBatchStream();
  PrefetchedBatchStream(const PrefetchedBatchStream&) = delete;
  PrefetchedBatchStream& operator=(const PrefetchedBatchStream&) = delete;
  RankMicroBatch next();
  DataPosition position_after(const RankMicroBatch& micro) const { return stream_.position_after(micro); }

 private:
  void prefetch();
  RankBatchStream stream_;
  std::future<RankMicroBatch> upcoming_;
};

}  // namespace bert
