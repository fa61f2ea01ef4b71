// The collectives of data parallelism: N ranks training on per-device batches of b windows
// produce the same losses, gradients and dropout masks as one process training on batches of
// N·b windows, for every N. Which windows each rank trains on, its loss weight and its dropout
// offset are engine/batch_stream.h's; here is what the ranks do together: sum the gradients
// (after the last micro-batch's backward, or overlapped with it by GradientReducer), start from
// rank 0's weights, agree on flags. A rank with 0 windows runs no forward/backward but still joins
// every collective with zero gradients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/bert_qa_model.h"
#include "comm/communicator.h"
#include "comm/gradient_buckets.h"
#include "engine/optimizer.h"

namespace bert {

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

// Rank 0's text on every rank (two broadcasts: the length, then the bytes).
std::string broadcast_text(Communicator& comm, const std::string& text);

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

// Segments of the model's gradient buffer for plan_gradient_buckets, the unit of each its
// ParamSlot::stage (0 = embeddings, l + 1 = encoder layer l, num_layers + 1 = the QA head: the
// order backward finishes them in reverse). One per tensor, covering the alignment gap after it
// too, so they tile the buffer.
std::vector<GradientSegment> gradient_segments(const ParamLayout& layout);

}  // namespace bert
