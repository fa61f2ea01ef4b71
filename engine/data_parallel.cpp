#include "engine/data_parallel.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace bert {

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
  model.backend().join_side_updates();
  comm.broadcast(model.master_params());
  model.refresh_working_params();
}

bool any_rank(Communicator& comm, bool flag) { return comm.all_reduce_sum_double(flag ? 1.0 : 0.0) > 0.5; }

std::string broadcast_text(Communicator& comm, const std::string& text) {
  uint64_t size = text.size();
  comm.broadcast(&size, sizeof size);
  std::string out = comm.is_root() ? text : std::string(size, '\0');
  if (size > 0) comm.broadcast(out.data(), size);
  return out;
}

GradientReducer::GradientReducer(BertQaModel& model, Communicator& comm, size_t bucket_bytes)
    : model_(model), comm_(comm) {
  check_memory(model, comm);
  buckets_ = plan_gradient_buckets(gradient_segments(model.layout()), bucket_bytes,
                                   scalar_size(model.gradients_flat().dtype));
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

std::vector<GradientSegment> gradient_segments(const ParamLayout& layout) {
  std::vector<GradientSegment> segments;
  // Each segment also covers the alignment gap after its tensor (zeros), so the segments tile
  // the flat buffer and a bucket's neighbouring tensors stay one range.
  const std::vector<ParamSlot>& slots = layout.slots();  // in offset order
  for (size_t i = 0; i < slots.size(); ++i) {
    const ParamSlot& slot = slots[i];
    segments.push_back(
        GradientSegment{slot.name, slot.offset, layout.slot_end(i) - slot.offset, slot.stage});
  }
  return segments;
}

}  // namespace bert
